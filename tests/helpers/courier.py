"""A stand-in for the sender's courier, for passes run in the test's process."""

from __future__ import annotations

from dataclasses import dataclass, field

from feedsvc.reminders import Outgoing


@dataclass
class Courier:
    """Takes what a pass hands it; answers as told (``None`` means it went)."""

    sent: list[Outgoing] = field(default_factory=list)
    answers: list[Exception | None] = field(default_factory=list)

    def __call__(self, outgoing: Outgoing) -> None:
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        self.sent.append(outgoing)

    def what(self) -> list[tuple[str, str, str]]:
        """Each message's kind, item and moment."""
        return [(o.kind, o.item.title if o.item else "-", o.planned_at.isoformat())
                for o in self.sent]

    def messages(self) -> list[tuple[str, list[str]]]:
        """When each message went, and the titles in it (several for a digest)."""
        return [(o.now.isoformat(), sorted(item.title for _, item in o.digest)
                 if o.digest else [o.item.title if o.item else "test"]) for o in self.sent]
