"""/healthz: 200 while the database answers, 503 when it does not, quiet either way."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import create_app, health, sender
from feedsvc.accesslog import MaskedLogger
from feedsvc.db import get_engine

from helpers import app_config


def test_healthz_is_ok_without_signing_in(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok",
                              "reminders": {"last_pass": None, "late": False}}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_healthz_tells_the_senders_last_pass_and_whether_it_is_late(
        app: Flask, client: FlaskClient, user: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The account's address is a channel: reminders have somewhere to go, and no pass ran.
    assert client.get("/healthz").json["reminders"] == {"last_pass": None, "late": True}
    now = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
    sender.run_pass(app, now)
    for minutes, late in ((0, False), (10, False), (11, True)):
        monkeypatch.setattr(health, "utc_now", lambda m=minutes: now + dt.timedelta(minutes=m))
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json["reminders"] == {"last_pass": "2027-03-01T09:00:00+00:00",
                                               "late": late}


@pytest.fixture
def unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app whose database cannot be opened."""
    monkeypatch.setattr(health, "_database_was_up", True)
    missing = tmp_path / "missing" / "folder" / "db.sqlite3"
    app = create_app(app_config(tmp_path / "instance", "sqlite:///" + str(missing)))
    yield app
    get_engine(app).dispose()


def test_healthz_is_503_when_the_database_is_unreachable(
        unreachable: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = unreachable.test_client()
    with caplog.at_level(logging.WARNING, logger="feedsvc.health"):
        for _ in range(5):
            response = client.get("/healthz")
            assert response.status_code == 503
            assert response.json == {"status": "unavailable"}
    # One line when the outage starts, not one per probe; no stack trace.
    records = [r for r in caplog.records if r.name == "feedsvc.health"]
    assert len(records) == 1
    assert records[0].exc_info is None


def gunicorn_conf() -> Any:
    """The production settings, read afresh from the current environment."""
    return importlib.reload(importlib.import_module("feedsvc.gunicorn_config"))


@pytest.mark.parametrize("setting, expected", [
    (None, (20000, 2000)), ("0", (0, 0)), ("5000", (5000, 500)),
])
def test_workers_are_recycled_as_configured(monkeypatch: pytest.MonkeyPatch,
                                           setting: str | None, expected: tuple[int, int]) -> None:
    if setting is None:
        monkeypatch.delenv("FEEDSVC_MAX_REQUESTS", raising=False)
    else:
        monkeypatch.setenv("FEEDSVC_MAX_REQUESTS", setting)
    conf = gunicorn_conf()
    assert (conf.max_requests, conf.max_requests_jitter) == expected


def test_successful_probes_stay_out_of_the_access_log() -> None:
    conf = gunicorn_conf()
    logger = conf.AccessLogger.__new__(conf.AccessLogger)
    with mock.patch.object(MaskedLogger, "access") as logged:
        for path, status in (("/healthz", "200 OK"), ("/healthz", "503 SERVICE UNAVAILABLE"),
                             ("/feeds/x.ics", "200 OK")):
            logger.access(SimpleNamespace(status=status), None, {"PATH_INFO": path}, None)
    assert [call.args[2]["PATH_INFO"] for call in logged.call_args_list] == [
        "/healthz", "/feeds/x.ics"]
