"""A database dump holds no channel secret in clear: a push channel's bot token or the password
in its URL is kept sealed (``feedsvc.sealed``), and neither the database (its SQLite files, a
``pg_dump``, every table read back), the backup, the API, the pages, the person's download,
the log nor a failed send's recorded error shows it — while a real HTTP server on 127.0.0.1
does receive it, so the secret really is used."""

from __future__ import annotations

import base64
import json
import logging
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import make_url

from feedsvc import create_app
from feedsvc.db import get_engine, get_feed_engine, new_session
from feedsvc.models import Base, Channel, Delivery

from helpers import Api, Page, app_config, signed_in

CHANNELS = "/api/v1/channels"
BOT_SECRET = "ABCdefGHIjklMNO"
BOT_TOKEN = f"123456789:{BOT_SECRET}"
TELEGRAM = f"tgram://{BOT_TOKEN}/12345"
PASSWORD = "S3cretPassw0rd"
# What the webhook's request carries: HTTP basic authentication of user:PASSWORD.
BASIC = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
SECRETS = (BOT_TOKEN, BOT_SECRET, PASSWORD, BASIC)


def secrets_in(data: str | bytes) -> list[str]:
    """The secrets ``data`` shows in clear."""
    raw = data.encode() if isinstance(data, str) else data
    return [secret for secret in SECRETS if secret.encode() in raw]


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The usual test app, whose push channels may reach 127.0.0.1 (the webhook)."""
    application = create_app(app_config(tmp_path / "instance", database_url,
                                        FEEDSVC_CHANNEL_ALLOW_HOSTS="127.0.0.1"))
    yield application
    get_engine(application).dispose()


def webhook_url(push_server: Any) -> str:
    return f"json://user:{PASSWORD}@127.0.0.1:{push_server.server_port}/hook"


@pytest.fixture
def pushed(api: Api, push_server: Any, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """A Telegram channel and a JSON webhook added through the API, and a test message sent
    to the webhook, everything logged at DEBUG (every SQL statement with its parameters
    too); the channels as the API answered."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    telegram = api.post(CHANNELS, json={"kind": "apprise", "url": TELEGRAM})
    assert telegram.status_code == 201, telegram.json
    webhook = api.post(CHANNELS, json={"kind": "apprise", "url": webhook_url(push_server)})
    assert webhook.status_code == 201, webhook.json
    sent = api.post(f"{CHANNELS}/{webhook.json['id']}/test")
    assert sent.json["delivery"]["status"] == "sent", sent.json
    # The secret was used: the webhook got the password.
    assert push_server.authorizations() == [f"Basic {BASIC}"]
    return {"telegram": telegram.json, "webhook": webhook.json}


def sealed_urls(app: Flask) -> list[str]:
    """The sealed URLs the database keeps: what a scan must find, to prove it read the data."""
    with new_session(app) as session:
        return [s for s in session.scalars(select(Channel.secret).order_by(Channel.id)) if s]


def test_the_api_shows_the_addresses_masked(pushed: dict[str, Any], push_server: Any) -> None:
    assert pushed["telegram"]["target"] == "tgram://1...O/12345"
    assert pushed["webhook"]["target"] == f"json://user:****@127.0.0.1:{push_server.server_port}/h...k"
    assert (pushed["telegram"]["name"], pushed["webhook"]["name"]) == ("Telegram",
                                                                       "JSON webhook")
    assert secrets_in(json.dumps(pushed)) == []


def test_what_the_person_sees_holds_no_secret(app: Flask, user: dict[str, Any], api: Api,
                                               pushed: dict[str, Any]) -> None:
    listed = api.get(CHANNELS)
    deliveries = api.get("/api/v1/deliveries")
    browser = signed_in(app.test_client(), user)
    page = browser.get("/reminders")
    download = browser.client.get("/settings/export")
    for shown in (listed, deliveries, page.response, download):
        assert shown.status_code == 200
        assert secrets_in(shown.get_data()) == []
    for channel in pushed.values():
        assert channel["target"] in listed.get_data(as_text=True)
        assert channel["target"] in page.text


def test_the_log_holds_no_secret(pushed: dict[str, Any], push_server: Any,
                                 caplog: pytest.LogCaptureFixture) -> None:
    # The channels were added and tested while the fixture was set up.
    records = caplog.get_records("setup")
    messages = [record.getMessage() for record in records]
    assert any(f"127.0.0.1:{push_server.server_port}" in message for message in messages), (
        "the send was logged at DEBUG")
    assert any("INSERT INTO channels" in message for message in messages), (
        "the SQL was logged")
    for record, message in zip(records, messages, strict=True):
        assert secrets_in(message) == [], message
        assert secrets_in(repr(record.args)) == [], message


def test_the_backup_holds_the_urls_sealed_only(app: Flask, pushed: dict[str, Any]) -> None:
    result = app.test_cli_runner().invoke(args=["export"])
    assert result.exit_code == 0, result.output
    assert secrets_in(result.stdout) == []
    document = json.loads(result.stdout)
    assert [row["secret"] for row in document["tables"]["channels"] if row["secret"]] == (
        sealed_urls(app))


def test_every_table_read_back_holds_no_secret(app: Flask, pushed: dict[str, Any]) -> None:
    with new_session(app) as session:
        dump = "\n".join(repr(row) for table in Base.metadata.sorted_tables
                         for row in session.execute(select(table)))
    assert secrets_in(dump) == []
    assert all(sealed in dump for sealed in sealed_urls(app))


def test_the_sqlite_files_hold_no_secret(app: Flask, pushed: dict[str, Any],
                                         tmp_path: Path) -> None:
    url = make_url(app.config["FEEDSVC_DATABASE_URL"])
    if url.get_backend_name() != "sqlite":
        pytest.skip("the database is not SQLite")
    database = Path(str(url.database))
    for engine in (get_engine(app), get_feed_engine(app)):
        engine.dispose()
    # The database is in WAL mode: move what the log holds into the main file (the files
    # are all read below anyway, -wal included).
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    assert database.is_relative_to(tmp_path)
    # Every file the test wrote: the database, its -wal and -shm, the instance folder.
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert database in files
    for path in files:
        assert secrets_in(path.read_bytes()) == [], path
    assert all(sealed.encode() in database.read_bytes() for sealed in sealed_urls(app))


def test_a_pg_dump_holds_no_secret(app: Flask, pushed: dict[str, Any]) -> None:
    url = make_url(app.config["FEEDSVC_DATABASE_URL"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("the database is not PostgreSQL")
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("no pg_dump on this machine")
    dump = subprocess.run(
        [pg_dump, "--no-owner", "--dbname",
         url.set(drivername="postgresql").render_as_string(hide_password=False)],
        capture_output=True, check=True, timeout=60).stdout
    assert secrets_in(dump) == []
    assert all(sealed.encode() in dump for sealed in sealed_urls(app))


def refused_send(app: Flask, user: dict[str, Any], channel_id: int) -> Page:
    """Press the page's "Send a test" button; the page it leads back to."""
    browser = signed_in(app.test_client(), user)
    form = browser.get("/reminders").form(f"/reminders/{channel_id}/test")
    response = browser.client.post(f"/reminders/{channel_id}/test", data=form.fields)
    assert response.status_code == 302
    return browser.get("/reminders")


def test_a_refused_send_records_and_shows_no_secret(
        app: Flask, user: dict[str, Any], api: Api, pushed: dict[str, Any], push_server: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    push_server.status = 401
    channel_id = pushed["webhook"]["id"]
    page = refused_send(app, user, channel_id)
    through_api = api.post(f"{CHANNELS}/{channel_id}/test").json["delivery"]
    # Both tries reached the webhook with the password, which refused it.
    assert push_server.authorizations() == [f"Basic {BASIC}"] * 3
    with new_session(app) as session:
        errors = list(session.scalars(select(Delivery.error).where(Delivery.status == "failed")))
    deliveries = api.get("/api/v1/deliveries").get_data(as_text=True)
    (flash,) = page.flashes()
    for shown in (*errors, flash, page.text, json.dumps(through_api), deliveries, caplog.text):
        assert secrets_in(shown) == [], shown
    # What was recorded and shown is the service's answer.
    assert errors == ["The service refused the message: HTTP 401."] * 2
    assert through_api["error"] == errors[0]
    assert "could not be sent" in flash and "HTTP 401" in flash
    assert "HTTP 401" in deliveries
