"""Push and chat channels through Apprise (the ``apprise`` library: one client for every
service): which services a channel may use, its address checked and shown masked, and one
message sent, its failure told apart as the reminder engine needs (temporary or not).

Every request goes through ``outbound.guarded``: a host that is not public is refused when
the connection is made, redirects are not followed, and each request has ``TIMEOUTS``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import apprise
from werkzeug.http import parse_date

from feedsvc import outbound
from feedsvc.reminders import Permanent, Temporary
from feedsvc.status import utc_now
from feedsvc.texts import N_

# Apprise's records, and urllib3's of each request, carry bot tokens, topics and action links
# in clear: they are never written. How each send went is recorded on its delivery instead.
logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

# The services a channel may use, and their Apprise schemes.
SERVICES: dict[str, tuple[str, ...]] = {
    "ntfy": ("ntfy", "ntfys"), "Telegram": ("tgram",), "Gotify": ("gotify", "gotifys"),
    "Pushover": ("pover",), "Discord": ("discord",), "Bark": ("bark", "barks"),
    "ServerChan": ("schan",), "PushPlus": ("pushplus",), "JSON webhook": ("json", "jsons"),
}
_SCHEMES = {scheme: service for service, schemes in SERVICES.items() for scheme in schemes}
# Schemes whose host the person chooses; Apprise fixes the others' (Telegram's, Pushover's…).
_CHOSEN_HOST = frozenset({"ntfy", "ntfys", "gotify", "gotifys", "bark", "barks", "json", "jsons"})
# Seconds to connect and to wait for each answer: a slow service cannot stall a pass.
TIMEOUTS = (5.0, 10.0)
# The longest wait a service's Retry-After is taken at: a day, past which nothing is retried.
LONGEST_ASKED = 24 * 3600.0
# No files written, no redirects followed, no icon from a third party in the message.
_ASSET = apprise.AppriseAsset(app_id="feedsvc", app_desc="feedsvc", app_url="",
                              storage_mode="memory", http_redirects=False, image_url_mask="",
                              image_url_logo="")


class BadAddress(ValueError):
    """An address that is not one of an accepted service's; its message is for people."""

    def __init__(self, msgid: str, **values: str) -> None:
        super().__init__(msgid % values)
        self.msgid = msgid
        self.values = values


def _plugin(url: str) -> Any:
    return apprise.Apprise.instantiate(url, asset=_ASSET)


def service_of(url: str) -> str | None:
    """The accepted service an address is for, by its scheme; None for any other."""
    return _SCHEMES.get(url.partition("://")[0].lower()) if "://" in url else None


def read(url: str, allow: outbound.AllowList) -> str:
    """The address as it may be shown (every secret part masked), once checked: ``BadAddress``
    for one no accepted service has, ``outbound.Refused`` for a host channels may not reach.
    A host that does not resolve yet is accepted: each send checks it again."""
    service = service_of(url)
    if service is None:
        raise BadAddress(N_("Only these services are accepted: %(services)s."),
                         services=", ".join(SERVICES))
    plugin = _plugin(url)
    # An address with nowhere to send: a Bark without a device key, an ntfy without a topic.
    if plugin is None or len(plugin) == 0 or (service == "ntfy" and not plugin.topics):
        raise BadAddress(N_("This is not a valid %(service)s address."), service=service)
    if url.partition("://")[0].lower() in _CHOSEN_HOST:
        cloud = getattr(plugin, "mode", "") == "cloud"
        # ntfy reads a host it does not take for one as a topic, and then sends to ntfy.sh:
        # an address written as a host is checked all the same.
        written = urlsplit(url)
        hosts = set() if cloud else {plugin.host}
        if written.path.strip("/") and written.hostname and (
                not cloud or outbound.is_literal(written.hostname)):
            hosts.add(written.hostname)
        try:
            for host in filter(None, hosts):
                outbound.check_new(host, plugin.port or (443 if plugin.secure else 80), allow)
        except UnicodeError:  # a name no resolver takes (an empty or too long label)
            raise BadAddress(N_("This is not a valid %(service)s address."),
                             service=service) from None
        if cloud and written.path.strip("/") and written.hostname not in (
                None, "ntfy.sh", *plugin.topics):
            # Written as a host, but ntfy would drop it and send to ntfy.sh instead.
            raise BadAddress(N_("This is not a valid %(service)s address."), service=service)
    return _masked(str(plugin.url(privacy=True)), getattr(plugin, "mode", "") == "cloud")


def _masked(url: str, cloud: bool) -> str:
    """Apprise's masked address without its options. An ntfy topic and a webhook's path are
    masked too, as anyone who knows them can read the messages or post to the hook; ntfy's
    own server (``cloud``) is named, since its address names only topics."""
    url = url.partition("?")[0].rstrip("/")
    if service_of(url) not in ("ntfy", "JSON webhook"):
        return url
    scheme, _, rest = url.partition("://")
    host, *path = rest.split("/")
    if cloud:
        host, path = "ntfy.sh", [host, *path] if host else path
    return "/".join([f"{scheme}://{host}",
                     *(f"{part[0]}...{part[-1]}" if len(part) > 2 else "****"
                       for part in path if part)])


def has_buttons(url: str) -> bool:
    """Whether the service shows action buttons (ntfy); elsewhere links go in the text."""
    return service_of(url) == "ntfy"


def _with_actions(url: str, actions: Sequence[tuple[str, str]]) -> str:
    """ntfy's address with its action buttons ("view" actions: label, link)."""
    if not actions or not has_buttons(url):
        return url
    buttons = "; ".join(f"view, {label.replace(',', ' ').replace(';', ' ')}, {link}, clear=true"
                        for label, link in actions)
    return f"{url}{'&' if '?' in url else '?'}actions={quote(buttons, safe='')}"


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After header's wait in seconds (it gives seconds or an HTTP date), at most
    ``LONGEST_ASKED``."""
    if retry_after is None:
        return None
    if retry_after.strip().isdigit():
        return min(float(retry_after), LONGEST_ASKED)
    when = parse_date(retry_after)
    return None if when is None else min(max(0.0, (when - utc_now()).total_seconds()),
                                         LONGEST_ASKED)


def send(url: str, title: str, body: str, allow: outbound.AllowList,
         actions: Sequence[tuple[str, str]] = ()) -> None:
    """Send one message (with buttons where the service has them); ``Temporary`` when it
    may go later (no answer, 429, 5xx), ``Permanent`` when it never will as things are."""
    plugin = _plugin(_with_actions(url, actions))
    if plugin is None:
        raise Permanent(N_("The channel's address is no longer valid."))
    plugin.socket_connect_timeout, plugin.socket_read_timeout = TIMEOUTS
    with outbound.guarded(allow) as answers:
        if plugin.notify(title=title, body=body):
            return
    if answers.refused is not None:
        raise Permanent(answers.refused.reason)
    last = answers.last()
    if last is None:
        raise Temporary(N_("The service did not answer."))
    status, retry_after = last
    if status == 429 or status >= 500:
        raise Temporary(N_("The service answered HTTP %(status)s: trying again later.")
                        % {"status": status}, retry_after=_seconds(retry_after))
    raise Permanent(N_("The service refused the message: HTTP %(status)s.") % {"status": status})
