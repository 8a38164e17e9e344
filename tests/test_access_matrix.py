"""Access control: every route of the app × (anonymous, other user, owner, revoked credential).

Routes come from ``app.url_map``, so a new route is covered the day it is added; a route
whose kind or URL variables this module cannot place fails ``test_every_route_is_classified``.
For each route and method, a visitor who is not the owner must be turned away (401 for the
API, the log-in page for the web, 404 for another's id, 404/410 for a feed URL that is not
theirs) or see only their own data: no response may carry the owner's item title, e-mail,
feed URL or API token, and the owner's rows must be unchanged afterwards. The owner gets
through everywhere. Links that mails and feeds carry (``/act/<token>``, ``/unsubscribe/<token>``…)
need no log-in: the signed token is the key, so there the others bring a made-up token, one
signed with another key, or a valid one of their own. Run with ``-s`` for the count of cases.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import accountmail, actions, channels, create_app, status
from feedsvc.db import new_session
from feedsvc.models import Channel, Item, User

from helpers import (
    PASSWORD,
    SECRET_KEY,
    VALID_ITEM,
    Api,
    Browser,
    make_account,
    snapshot,
    web_client,
)

ACTORS = ("anonymous", "other", "owner", "revoked")
# Reachable by anyone by design; still checked for leaks.
PUBLIC = {"static", "health.healthz", "api.openapi", "web.signup", "web.login", "web.logout",
          "web.switch_language", "web.forgot_password"}
# How each URL variable is filled for the owner's resources.
ID_VARIABLES = {"item_id", "feed_id", "token_id", "channel_id"}
# Pages of links that mails and feeds carry, by the start of their path.
LINK_PREFIXES = ("/act/", "/confirm/", "/unsubscribe/", "/password/reset/", "/settings/email/")
SECRET_TITLE = "Owner's secret SIM 4f2a"
TALLY: Counter[str] = Counter()


def _routes() -> list[tuple[str, str, str]]:
    app = create_app({"TESTING": True, "FEEDSVC_DATABASE_URL": "sqlite://",
                      "FEEDSVC_SECRET_KEY": SECRET_KEY, "INSTANCE_PATH": "/tmp/feedsvc-matrix"})
    return sorted((rule.endpoint, rule.rule, method) for rule in app.url_map.iter_rules()
                  for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))


ROUTES = _routes()


def classify(endpoint: str, rule: str) -> str | None:
    """public, api, web or feed; None when this module does not know the route."""
    variables = {part.split(">")[0].split(":")[-1] for part in rule.split("<")[1:]}
    if endpoint in PUBLIC:
        return "public"
    if endpoint.startswith("feed.") and variables == {"token"}:
        return "feed"
    if endpoint.startswith("web.") and variables == {"token"} and rule.startswith(LINK_PREFIXES):
        return "link"
    if not variables <= ID_VARIABLES:
        return None
    if endpoint.startswith("api."):
        return "api"
    if endpoint.startswith("web."):
        return "web"
    return None


def test_every_route_is_classified() -> None:
    unknown = [(endpoint, rule) for endpoint, rule, _ in ROUTES if classify(endpoint, rule) is None]
    assert not unknown, f"classify these routes in test_access_matrix.py: {unknown}"


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    print(f"\naccess matrix: {len(ROUTES)} route-methods x {len(ACTORS)} actors, "
          f"{TALLY['cases']} cases tried, {TALLY['got through']} got through "
          f"({TALLY['refused']} refused, {TALLY['own data only']} saw only their own data, "
          f"{TALLY['owner reached']} owner requests reached)")


def link_tokens(app: Flask, account: dict[str, Any], key: str) -> dict[str, str]:
    """The token of each kind of link for the account's item and addresses, signed with
    ``key`` (the service's, or another that it must refuse)."""
    with app.app_context(), new_session(app) as session:
        user = session.get_one(User, account["id"])
        item = session.get_one(Item, account["item_id"])
        own_address = session.scalars(select(Channel).where(
            Channel.user_id == user.id, Channel.account.is_(True))).one()
        added = session.get_one(Channel, account["channel_id"])
        now = status.utc_now()
        return {
            "/act/": actions.make_token(key, actions.RENEW, item.id, item.due_date),
            "/confirm/": channels.confirm_token(key, own_address),
            "/unsubscribe/": channels.unsubscribe_token(key, added),
            "/password/reset/": accountmail.reset_token(key, user, now),
            "/settings/email/": accountmail.change_token(key, user, "new-" + user.email, now),
        }


def full_account(app: Flask, email: str, title: str = "Someone's SIM") -> dict[str, Any]:
    """``make_account``'s account, with a reminder address of its own besides the account's
    (``channel_id``) and the tokens of its links."""
    account = make_account(app, email, title)
    with app.app_context(), new_session(app) as session:
        channel = channels.add_channel(session, session.get_one(User, account["id"]),
                                       {"kind": "email", "address": "extra-" + email},
                                       status.utc_now(), app.config)
        session.commit()
        account["channel_id"] = channel.id
    account["links"] = link_tokens(app, account, SECRET_KEY)
    account["forged_links"] = link_tokens(app, account, "not the service's key")
    return account


def channel_state(app: Flask, user_id: int) -> list[tuple[object, ...]]:
    """The account's reminder addresses, as a request could change them."""
    with app.app_context(), new_session(app) as session:
        return [(c.id, c.target, c.enabled, c.verified_at, c.paused_at) for c in session.scalars(
            select(Channel).where(Channel.user_id == user_id).order_by(Channel.id))]


def request(app: Flask, kind: str, method: str, rule: str, actor: str,
            owner: dict[str, Any], other: dict[str, Any]) -> Any:
    """Send the request as ``actor``, on the owner's resources."""
    path = rule.replace("<path:filename>", "style.css")
    for name in ID_VARIABLES:
        for converter in (f"<int:{name}>", f"<{name}>"):
            path = path.replace(converter, str(owner[name]))
    if kind == "link":
        prefix = next(prefix for prefix in LINK_PREFIXES if rule.startswith(prefix))
        token = {"owner": owner["links"][prefix], "other": other["links"][prefix],
                 "revoked": owner["forged_links"][prefix],
                 "anonymous": secrets.token_urlsafe(32)}[actor]
        # Whoever holds the link, with no log-in; a form's POST carries its CSRF token, and
        # the body of a mail provider's one-click unsubscribe (RFC 8058).
        client = web_client(app, None)
        data: dict[str, str] = {}
        if method == "POST":
            data = {"csrf_token": Browser(client).csrf_token(), "List-Unsubscribe": "One-Click",
                    "due_date": "2030-01-01", "password": "HIJACKED-password",
                    "confirm": "HIJACKED-password"}
        return client.open(path.replace("<token>", token), method=method, data=data)
    if kind == "feed":
        token = {"owner": owner["feed_token"], "other": other["feed_token"],
                 "revoked": owner["rotated_feed_token"],
                 "anonymous": secrets.token_urlsafe(32)[:43]}[actor]
        return app.test_client().open(path.replace("<token>", token), method=method)
    if kind == "api" or (kind == "public" and path.startswith("/api/")):
        headers = {"Authorization": "Bearer " + {
            "owner": owner["token"], "other": other["token"], "revoked": owner["revoked_token"],
            "anonymous": "fs_" + secrets.token_urlsafe(32)}[actor]}
        if actor == "anonymous":
            headers = {}
        body = {"title": "HIJACKED", "name": "HIJACKED"} if method in ("PATCH", "POST") else None
        if path.endswith("/items") and method == "POST":
            body = {**VALID_ITEM, "title": "HIJACKED"}
        if path.endswith(("/renewals", "/rotate")):
            body = {}
        return app.test_client().open(path, method=method, headers=headers, json=body)
    account = {"owner": owner, "other": other, "revoked": owner, "anonymous": None}[actor]
    client = web_client(app, account, nonce="stale" if actor == "revoked" else None)
    data = {}
    if method == "POST":
        data = {"csrf_token": Browser(client).csrf_token(), "title": "HIJACKED",
                "name": "HIJACKED", "due_date": "2030-01-01", "category": "sim",
                "password": PASSWORD, "current_password": PASSWORD,
                "new_password": "HIJACKED-password", "confirm": "HIJACKED-password",
                "email": owner["email"], "timezone": "UTC", "locale": "en"}
    return client.open(path, method=method, data=data)


def sent_to_login(response: Any) -> bool:
    return response.status_code == 302 and response.location.startswith("/login?next=")


def judge(kind: str, rule: str, actor: str, response: Any, owner: dict[str, Any]) -> str:
    """What happened: refused, own data only, owner reached, or got through."""
    status = response.status_code
    assert status < 500, (rule, actor, status)
    body = response.get_data(as_text=True) + str(response.headers)
    leaked = [s for s in (SECRET_TITLE, owner["email"], owner["token"], owner["feed_token"])
              if s in body]
    has_id = "<" in rule and kind != "feed"
    if actor == "owner":
        assert status not in (401, 403, 404, 410) and not sent_to_login(response), (
            f"the owner was refused: {rule} {status}")
        return "owner reached"
    if leaked and kind != "public":
        return "got through"
    if leaked:
        # Public pages may echo what the visitor typed (the log-in form keeps the e-mail).
        leaked = [s for s in leaked if s != owner["email"]]
        return "got through" if leaked else "own data only"
    if kind == "feed":
        # Another's feed URL is their own calendar; an unknown token is 404, a rotated one 410.
        expected = {"other": 200, "anonymous": 404, "revoked": 410}[actor]
        assert status == expected, (rule, actor, status)
        return "own data only" if actor == "other" else "refused"
    if kind == "public":
        return "own data only"
    if kind == "link":
        # Another's own link acts on their own account; a made-up or forged one on nothing.
        if actor == "other":
            return "own data only"
        return "refused" if status == 404 else "got through"
    if actor in ("anonymous", "revoked"):
        refused = status == 401 if kind == "api" else sent_to_login(response)
        return "refused" if refused else "got through"
    # The other user: another's id is 404; a route without an id acts on their own account.
    if has_id:
        return "refused" if status == 404 else "got through"
    return "own data only"


@pytest.mark.parametrize("endpoint, rule, method", ROUTES,
                         ids=[f"{m} {r}" for _e, r, m in ROUTES])
def test_nobody_but_the_owner_reaches_the_owners_data(
    app: Flask, endpoint: str, rule: str, method: str
) -> None:
    kind = classify(endpoint, rule)
    if kind is None:
        pytest.fail(f"unclassified route {endpoint} {rule}")
    owner = full_account(app, "owner@example.com", SECRET_TITLE)
    before = snapshot(app, owner["id"]), channel_state(app, owner["id"])
    outcomes = {}
    for number, actor in enumerate(("anonymous", "other", "revoked")):
        other = full_account(app, f"other{number}@example.com")
        response = request(app, kind, method, rule, actor, owner, other)
        outcomes[actor] = judge(kind, rule, actor, response, owner)
        TALLY["cases"] += 1
        TALLY[outcomes[actor]] += 1
    assert (snapshot(app, owner["id"]), channel_state(app, owner["id"])) == before, \
        f"{method} {rule} changed the owner's data"
    # The owner, last: on a fresh account, as the request may delete or rotate things.
    fresh_owner = full_account(app, "fresh-owner@example.com")
    other = full_account(app, "bystander@example.com")
    response = request(app, kind, method, rule, "owner", fresh_owner, other)
    outcomes["owner"] = judge(kind, rule, "owner", response, {**fresh_owner,
                                                              "email": "\0", "token": "\0"})
    TALLY["cases"] += 1
    TALLY[outcomes["owner"]] += 1
    assert "got through" not in outcomes.values(), outcomes


def test_a_browser_session_does_not_open_the_api(app: Flask, user: dict[str, Any]) -> None:
    """The API takes bearer tokens only, which is why it needs no CSRF token."""
    client = web_client(app, {"id": user["id"], "nonce": accounts_nonce(app, user["id"])})
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/items").status_code == 401
    assert client.post("/api/v1/items", json=VALID_ITEM).status_code == 401


def accounts_nonce(app: Flask, user_id: int) -> str:
    with app.app_context(), new_session(app) as session:
        return session.get_one(User, user_id).session_nonce


def test_feed_urls_in_pages_belong_to_the_viewer(app: Flask) -> None:
    owner = make_account(app, "owner@example.com")
    other = make_account(app, "other@example.com")
    api = Api(app.test_client(), other["token"])
    for feed in api.get("/api/v1/feeds").json["feeds"]:
        assert urlsplit(feed["url"]).path != f"/feeds/{owner['feed_token']}.ics"
    page = web_client(app, other).get("/calendars")
    assert owner["feed_token"] not in page.get_data(as_text=True)
