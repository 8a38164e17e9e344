"""Action link tokens: sealed, deterministic, unalterable, killed by a feed's rotation."""

from __future__ import annotations

import datetime as dt

import pytest

from feedsvc.actions import RENEW, SNOOZE, BadToken, expires_on, make_token, read_token

KEY = "a-secret-key"
DUE = dt.date(2027, 3, 31)


def test_a_token_says_what_it_was_made_for() -> None:
    action = read_token(KEY, make_token(KEY, SNOOZE, 42, DUE))
    assert (action.action, action.item_id, action.due_date, action.feed_id) == (
        SNOOZE, 42, DUE, None)


def test_tokens_are_deterministic_and_differ_by_every_part() -> None:
    token = make_token(KEY, RENEW, 42, DUE)
    assert make_token(KEY, RENEW, 42, DUE) == token
    others = {make_token(KEY, SNOOZE, 42, DUE), make_token(KEY, RENEW, 43, DUE),
              make_token(KEY, RENEW, 42, DUE + dt.timedelta(days=1)),
              make_token("another-key", RENEW, 42, DUE),
              make_token(KEY, RENEW, 42, DUE, feed_id=1, feed_secret="s")}
    assert token not in others and len(others) == 5


def test_a_token_shows_nothing_in_clear() -> None:
    token = make_token(KEY, RENEW, 123456, DUE, feed_id=987654, feed_secret="s")
    assert "123456" not in token and "987654" not in token and "2027" not in token
    assert len(token) < 80


def test_a_feeds_token_carries_a_tag_of_its_secret() -> None:
    old = read_token(KEY, make_token(KEY, RENEW, 42, DUE, feed_id=7, feed_secret="before"))
    new = read_token(KEY, make_token(KEY, RENEW, 42, DUE, feed_id=7, feed_secret="after"))
    assert old.feed_id == new.feed_id == 7
    assert old.feed_tag != new.feed_tag


@pytest.mark.parametrize("change", [
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),
    lambda t: t[1:],
    lambda t: t + "A",
    lambda t: "",
    lambda t: "not a token",
    lambda t: "%%%%",
    lambda t: t.upper(),
])
def test_an_altered_token_is_refused(change: object) -> None:
    token = make_token(KEY, RENEW, 42, DUE)
    with pytest.raises(BadToken):
        read_token(KEY, change(token))  # type: ignore[operator]


def test_a_token_of_another_installation_is_refused() -> None:
    with pytest.raises(BadToken):
        read_token("another-key", make_token(KEY, RENEW, 42, DUE))


def test_links_act_until_thirty_days_after_the_grace_period() -> None:
    assert expires_on(DUE, 30) == dt.date(2027, 5, 30)
    assert expires_on(DUE, None) == dt.date(2027, 4, 30)
