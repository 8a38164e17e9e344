"""Shared fixtures: every test gets its own app on its own, freshly migrated database.

The database is SQLite unless ``FEEDSVC_DATABASE_URL`` names a PostgreSQL server, in which
case the suite creates a private database there, migrates it once, empties it after each
test and drops it at the end.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from feedsvc import accounts, create_app
from feedsvc.cli import upgrade_database
from feedsvc.db import get_engine
from feedsvc.models import Base

from helpers import VALID_ITEM, Api, app_config, database_server_url, make_user
from helpers.pushserver import push_service
from helpers.smtp import SmtpServer


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt costs ~100 ms a hash; tests that are not about hashing use a cheap method."""
    monkeypatch.setattr(accounts, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture(scope="session")
def database_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Where test databases live: a migrated SQLite template, or a private PostgreSQL database."""
    server = database_server_url()
    if server is None:
        folder = tmp_path_factory.mktemp("template")
        template = folder / "template.sqlite3"
        app = create_app(app_config(folder, "sqlite:///" + str(template)))
        upgrade_database(app)
        get_engine(app).dispose()
        yield {"kind": "sqlite", "template": str(template)}
        return
    name = "feedsvc_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    app = create_app(app_config(tmp_path_factory.mktemp("pg"), url))
    upgrade_database(app)
    get_engine(app).dispose()
    try:
        yield {"kind": "postgresql", "url": url, "server": server, "name": name}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(database_backend: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database for one test."""
    if database_backend["kind"] == "sqlite":
        target = tmp_path / "feedsvc.sqlite3"
        shutil.copyfile(database_backend["template"], target)
        yield "sqlite:///" + str(target)
        return
    url = database_backend["url"]
    yield url
    engine = create_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on its own database, with CSRF checks on as in production."""
    application = create_app(app_config(tmp_path / "instance", database_url))
    yield application
    get_engine(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def user(app: Flask) -> dict[str, Any]:
    return make_user(app)


@pytest.fixture
def other_user(app: Flask) -> dict[str, Any]:
    return make_user(app, "other@example.com")


@pytest.fixture
def api(client: FlaskClient, user: dict[str, Any]) -> Api:
    return Api(client, user["token"])


@pytest.fixture
def other_api(app: Flask, other_user: dict[str, Any]) -> Api:
    return Api(app.test_client(), other_user["token"])


@pytest.fixture
def item(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/items", json=VALID_ITEM)
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def mail_app(database_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[Flask]:
    """An app whose mail goes to ``smtp_server``, from reminders@feeds.example.org."""
    application = create_app(app_config(tmp_path / "mail-instance", database_url,
                                        FEEDSVC_SMTP_URL=smtp_server.url(),
                                        FEEDSVC_MAIL_FROM="reminders@feeds.example.org"))
    yield application
    get_engine(application).dispose()


@pytest.fixture
def push_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app whose push channels may reach 127.0.0.1, where the test services listen."""
    application = create_app(app_config(tmp_path / "push-instance", database_url,
                                        FEEDSVC_CHANNEL_ALLOW_HOSTS="127.0.0.1"))
    yield application
    get_engine(application).dispose()


@pytest.fixture
def push_user(push_app: Flask) -> dict[str, Any]:
    """An account of ``push_app`` in Shanghai, not confirmed, with an API token."""
    return make_user(push_app, timezone="Asia/Shanghai")


@pytest.fixture
def push_server() -> Iterator[Any]:
    """A push service on 127.0.0.1 (``helpers.pushserver``)."""
    with push_service() as httpd:
        yield httpd


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, accepting everything until told otherwise."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
