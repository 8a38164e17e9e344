"""The feedsvc command group, through Flask's CLI runner."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from feedsvc import accounts
from feedsvc.db import new_session
from feedsvc.demo import DEMO_EMAIL
from feedsvc.models import Feed, Item, User


def count(app, model, *where):
    with app.app_context(), new_session(app) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_user_create_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(args=["user", "create", "New@Example.com", "--password-stdin"],
                           input="a long password\n")
    assert result.exit_code == 0, result.output
    assert count(app, User, User.email == "new@example.com") == 1
    assert count(app, Feed) == 1  # every new account gets its default feed
    with app.app_context(), new_session(app) as session:
        assert accounts.authenticate(session, "new@example.com", "a long password") is not None
        assert accounts.authenticate(session, "new@example.com", "a long passwor") is None


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("not-an-email", "a long password", "e-mail"),
        ("short@example.com", "short", "at least 8"),
        ("user@example.com", "a long password", "already exists"),
    ],
)
def test_user_create_refuses_bad_input(runner, user, email, password, message):
    result = runner.invoke(args=["user", "create", email, "--password-stdin"],
                           input=password + "\n")
    assert result.exit_code != 0
    assert message in result.output


def test_token_create_prints_only_a_working_token(app, runner, user):
    result = runner.invoke(args=["token", "create", user["email"]])
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json["email"] == user["email"]


def test_token_create_for_an_unknown_user_fails(runner):
    result = runner.invoke(args=["token", "create", "nobody@example.com"])
    assert result.exit_code != 0
    assert "No account" in result.output


def test_demo_creates_one_item_per_seed_country_once(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    with app.app_context(), new_session(app) as session:
        user = session.scalar(select(User).where(User.email == DEMO_EMAIL))
        items = list(session.scalars(select(Item).where(Item.user_id == user.id)))
    assert sorted(item.country for item in items) == ["HK", "MC", "ME", "PH", "RU"]
    by_country = {item.country: item for item in items}
    mts = by_country["RU"]
    # The seed carriers with a sourced rule follow their preset.
    assert (mts.carrier, mts.repeat_every, mts.repeat_unit, mts.repeat_from,
            mts.grace_days) == ("mts", 183, "day", "renewal", None)
    assert (by_country["HK"].carrier, by_country["HK"].repeat_every) == ("china-mobile-hk", 180)
    assert (by_country["MC"].carrier, by_country["MC"].grace_days) == ("monaco-telecom", 182)
    assert by_country["ME"].carrier is None
    assert (by_country["ME"].repeat_every, by_country["ME"].repeat_unit) == (1, "month")
    assert by_country["MC"].auto_renew is True
    tnt = by_country["PH"]
    assert (tnt.carrier, tnt.repeat_every, tnt.repeat_unit, tnt.repeat_from) == (
        "tnt", 120, "day", "renewal")

    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0
    assert "already exists" in again.output
    assert count(app, Item) == 5


def test_db_upgrade_is_idempotent(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_every_command_has_help_text(runner):
    for args in (["db", "upgrade"], ["user", "create"], ["token", "create"], ["demo"]):
        result = runner.invoke(args=[*args, "--help"])
        assert result.exit_code == 0
        assert "Usage:" in result.output

