"""`feedsvc export` / `feedsvc import`: a lossless round trip, feed URLs and tokens included."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from feedsvc import channels, create_app, reminders, sender
from feedsvc.cli import upgrade_database
from feedsvc.db import get_engine, new_session
from feedsvc.models import Channel, Item, User
from feedsvc.sealed import Unreadable

from helpers import (
    PASSWORD,
    SECRET_KEY,
    VALID_ITEM,
    Api,
    Browser,
    app_config,
    make_user,
    signed_in,
)

TELEGRAM_TOKEN = "123456789:ABCdefGHIjklMNO"
TELEGRAM = f"tgram://{TELEGRAM_TOKEN}/12345"


def remind(app: Flask, item_id: int) -> None:
    """Confirm every address, send the reminders due once, snooze the item."""
    with new_session(app) as session:
        session.execute(update(Channel).values(verified_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC)))
        session.commit()
    now = dt.datetime(2027, 3, 20, tzinfo=dt.UTC)
    summary = reminders.run_pass(lambda: new_session(app), lambda outgoing: None, now)
    # The second account's 14-day alarm (the first account's item was renewed to June).
    assert summary.sent == 1
    with new_session(app) as session:
        reminders.snooze(session, session.get_one(Item, item_id), now)
        session.commit()


def fill(app: Flask) -> dict[str, Any]:
    """Two accounts with items, renewals, an undone renewal, feeds (one rotated), tokens,
    confirmed reminder channels, reminders sent and snoozed."""
    first = make_user(app, "first@example.com", timezone="Asia/Shanghai", locale="zh-Hans")
    second = make_user(app, "second@example.com")
    api = Api(app.test_client(), first["token"])
    item = api.post("/api/v1/items", json=VALID_ITEM).json
    api.post(f"/api/v1/items/{item['id']}/renewals", json={"amount": "300", "method": "card"})
    api.post(f"/api/v1/items/{item['id']}/renewals", json={"note": "twice\nover"})
    api.delete(f"/api/v1/items/{item['id']}/renewals/latest")
    api.post("/api/v1/items", json={**VALID_ITEM, "title": "Archived 保号", "archived": True,
                                    "alarms": None})
    Api(app.test_client(), second["token"]).post("/api/v1/items", json=VALID_ITEM)
    # The newest item is deleted: its id must never come back, even after a restore.
    deleted = api.post("/api/v1/items", json={**VALID_ITEM, "title": "Deleted"}).json
    api.delete(f"/api/v1/items/{deleted['id']}")
    feed = api.post("/api/v1/feeds", json={"name": "SIMs", "categories": ["sim"]}).json
    rotated = api.post(f"/api/v1/feeds/{feed['id']}/rotate").json
    remind(app, item["id"])
    return {"first": first, "second": second, "old_feed": feed, "feed": rotated,
            "item": item}


def export(app: Flask, *args: str) -> dict[str, Any]:
    result = app.test_cli_runner().invoke(args=["export", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def fresh_database(database_backend: dict[str, str], tmp_path: Path, name: str) -> str:
    if database_backend["kind"] == "sqlite":
        return f"sqlite:///{tmp_path}/{name}.sqlite3"
    admin = create_engine(database_backend["server"], isolation_level="AUTOCOMMIT")
    database = f"{database_backend['name']}_{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return make_url(database_backend["url"]).set(database=database).render_as_string(
        hide_password=False)


@pytest.fixture
def restored(database_backend: dict[str, str], tmp_path: Path) -> Any:
    apps: list[Flask] = []

    def build(name: str = "restored", **extra: Any) -> Flask:
        database = fresh_database(database_backend, tmp_path, name)
        app = create_app(app_config(tmp_path / name, database, **extra))
        upgrade_database(app)
        apps.append(app)
        return app

    yield build
    for app in apps:
        get_engine(app).dispose()
    if database_backend["kind"] == "postgresql":
        admin = create_engine(database_backend["server"], isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for app in apps:
                name = make_url(app.config["FEEDSVC_DATABASE_URL"]).database
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def import_file(app: Flask, tmp_path: Path, document: dict[str, Any]) -> Any:
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(document))
    return app.test_cli_runner().invoke(args=["import", str(path)])


def test_export_import_export_gives_the_same_document_and_everything_still_works(
    app: Flask, restored: Any, tmp_path: Path
) -> None:
    data = fill(app)
    document = export(app)
    assert {name: len(rows) for name, rows in document["tables"].items()} == {
        "users": 2, "api_tokens": 2, "items": 3, "renewals": 1, "feeds": 1,
        "retired_feed_tokens": 1, "channels": 2, "deliveries": 1, "snoozes": 1}
    new = restored()
    result = import_file(new, tmp_path, document)
    assert result.exit_code == 0, result.output
    assert export(new) == document

    feed_path = urlsplit(data["feed"]["url"]).path
    assert new.test_client().get(feed_path).data == app.test_client().get(feed_path).data
    assert new.test_client().get(urlsplit(data["old_feed"]["url"]).path).status_code == 410
    api = Api(new.test_client(), data["first"]["token"])
    assert api.get("/api/v1/items").json == Api(app.test_client(),
                                                data["first"]["token"]).get("/api/v1/items").json
    assert Browser(new.test_client()).log_in("first@example.com", PASSWORD).status == 302
    # New rows get new ids: never one of the deleted item's.
    created = api.post("/api/v1/items", json=VALID_ITEM).json
    assert created["id"] > max(row["id"] for row in document["tables"]["items"]) + 1
    assert api.post(f"/api/v1/items/{created['id']}/renewals", json={}).status_code == 201
    assert api.post("/api/v1/feeds", json={}).status_code == 201


def test_export_of_one_account_imports_beside_others_with_new_ids(
    app: Flask, restored: Any, tmp_path: Path
) -> None:
    data = fill(app)
    document = export(app, "--user", "first@example.com")
    assert [u["email"] for u in document["tables"]["users"]] == ["first@example.com"]
    assert "retired_feed_tokens" not in document["tables"]
    new = restored()
    make_user(new, "someone@example.com")  # takes id 1, so the import must renumber
    other_api = Api(new.test_client(), make_user(new, "another@example.com")["token"])
    other_api.post("/api/v1/items", json=VALID_ITEM)
    result = import_file(new, tmp_path, document)
    assert result.exit_code == 0, result.output
    api = Api(new.test_client(), data["first"]["token"])
    listed = api.get("/api/v1/items?archived=false").json["items"]
    assert [i["title"] for i in listed] == [VALID_ITEM["title"]]
    assert len(api.get(f"/api/v1/items/{listed[0]['id']}/renewals").json["renewals"]) == 1
    assert new.test_client().get(urlsplit(data["feed"]["url"]).path).status_code == 200


def test_import_refuses_existing_accounts_and_changes_nothing(
    app: Flask, tmp_path: Path
) -> None:
    fill(app)
    document = export(app)
    before = export(app)
    result = import_file(app, tmp_path, document)
    assert result.exit_code != 0
    assert "already exist" in result.output and "first@example.com" in result.output
    assert export(app) == before


@pytest.mark.parametrize("document, message", [
    ({"format": "something else"}, "not a feedsvc backup"),
    ({"format": "feedsvc-backup", "version": 99, "tables": {}}, "format version 99"),
    ({"format": "feedsvc-backup", "version": 1, "tables": {"users": [{"id": 1, "shoe": 2}]}},
     "does not know"),
    ({"format": "feedsvc-backup", "version": 1, "tables": {"items": [{"id": 1, "user_id": 7}]}},
     "not in the backup"),
    ({"format": "feedsvc-backup", "version": 1, "tables": {"users": [{"id": 1, "email": 5}]}},
     "must be text"),
    ({"format": "feedsvc-backup", "version": 1,
      "tables": {"users": [{"id": 1, "default_alarms": [{"days_before": "3"}]}]}},
     "users.0.default_alarms does not have the shape this version stores"),
], ids=["format", "version", "unknown-column", "orphan", "wrong-type", "wrong-shape"])
def test_import_refuses_a_bad_file_clearly(app: Flask, tmp_path: Path,
                                           document: dict[str, Any], message: str) -> None:
    result = import_file(app, tmp_path, document)
    assert result.exit_code != 0
    assert message in result.output


def test_import_of_a_file_that_is_not_json_fails_clearly(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{ not json")
    result = app.test_cli_runner().invoke(args=["import", str(path)])
    assert result.exit_code != 0 and "is not JSON" in result.output


def test_export_of_an_unknown_account_fails(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["export", "--user", "nobody@example.com"])
    assert result.exit_code != 0 and "No account" in result.output


# -- push channels: their URLs travel sealed ------------------------------------------------

WEBHOOK_PASSWORD = "S3cretPassw0rd"
BASIC = "Basic " + base64.b64encode(f"user:{WEBHOOK_PASSWORD}".encode()).decode()
LOCAL_HOOKS = {"FEEDSVC_CHANNEL_ALLOW_HOSTS": "127.0.0.1"}


def backup_with_a_webhook(restored: Any, push_server: Any) -> tuple[dict[str, Any], int, str]:
    """A backup of an account with a JSON webhook channel (a daily digest, one taken today):
    the document, the channel's id and its URL."""
    source = restored("source", **LOCAL_HOOKS)
    user_id = make_user(source)["id"]
    url = f"json://user:{WEBHOOK_PASSWORD}@127.0.0.1:{push_server.server_port}/hook"
    with new_session(source) as session:
        channel = channels.add_channel(session, session.get_one(User, user_id),
                                       {"kind": "apprise", "url": url, "digest": "08:30"},
                                       dt.datetime(2027, 3, 17, tzinfo=dt.UTC), source.config)
        channel.digest_day = dt.date(2027, 3, 17)
        session.commit()
        channel_id, sealed = channel.id, channel.secret
    document = export(source)
    (row,) = [row for row in document["tables"]["channels"] if row["kind"] == "apprise"]
    assert (row["id"], row["secret"], row["digest"], row["digest_day"]) == (
        channel_id, sealed, "08:30", "2027-03-17")
    assert row["target"] == f"json://user:****@127.0.0.1:{push_server.server_port}/h...k"
    assert WEBHOOK_PASSWORD not in json.dumps(document), "the backup keeps the URL sealed"
    return document, channel_id, url


def test_a_push_channel_restored_beside_the_same_secret_key_keeps_working(
    restored: Any, push_server: Any, tmp_path: Path
) -> None:
    document, channel_id, url = backup_with_a_webhook(restored, push_server)
    new = restored(**LOCAL_HOOKS)
    result = import_file(new, tmp_path, document)
    assert result.exit_code == 0, result.output
    assert export(new) == document
    with new_session(new) as session:
        channel = session.get_one(Channel, channel_id)
        assert channels.push_url(SECRET_KEY, channel) == url
        assert channel.digest_day == dt.date(2027, 3, 17)
    assert sender.send_test(new, channel_id).status == "sent"
    assert push_server.authorizations() == [BASIC]


def test_a_push_channel_restored_beside_another_secret_key_fails_saying_to_add_it_again(
    restored: Any, push_server: Any, tmp_path: Path
) -> None:
    document, channel_id, _url = backup_with_a_webhook(restored, push_server)
    new = restored(FEEDSVC_SECRET_KEY="another secret key, not the backup's", **LOCAL_HOOKS)
    # The rest of the backup is worth having: the import goes ahead (see feedsvc.backup).
    result = import_file(new, tmp_path, document)
    assert result.exit_code == 0, result.output
    with new_session(new) as session, pytest.raises(Unreadable):
        channels.push_url(new.config["SECRET_KEY"], session.get_one(Channel, channel_id))
    delivery = sender.send_test(new, channel_id)
    assert delivery.status == "failed"
    assert delivery.error is not None and "add the channel again" in delivery.error
    assert push_server.authorizations() == []


def test_the_personal_download_lists_the_channels_as_the_api_does_push_addresses_masked(
    app: Flask, user: dict[str, Any], api: Api
) -> None:
    added = api.post("/api/v1/channels", json={"kind": "apprise", "url": TELEGRAM})
    assert added.status_code == 201, added.json
    response = signed_in(app.test_client(), user).client.get("/settings/export")
    assert response.status_code == 200
    exported = json.loads(response.data)["channels"]
    assert exported == api.get("/api/v1/channels").json["channels"]
    assert [c["target"] for c in exported] == [user["email"], "tgram://1...O/12345"]
    with new_session(app) as session:
        sealed = session.scalars(select(Channel.secret).where(Channel.kind == "apprise")).one()
    text = response.get_data(as_text=True)
    for secret in (TELEGRAM, TELEGRAM_TOKEN, TELEGRAM_TOKEN.split(":")[1], str(sealed)):
        assert secret not in text
