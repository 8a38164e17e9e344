"""Shared fixtures: every test gets its own app on its own, freshly migrated database.

The database is SQLite unless ``FEEDSVC_DATABASE_URL`` names a PostgreSQL server, in which
case the suite creates a private database there, migrates it once, empties it after each
test and drops it at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from feedsvc import accounts, create_app, driver
from feedsvc.cli import upgrade_database
from feedsvc.config import normalise_database_url
from feedsvc.db import get_engine, get_probe_engine, new_session
from feedsvc.models import Base

SECRET_KEY = "test-secret-key-not-for-production"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt costs ~100 ms a hash; tests that are not about hashing use a cheap method."""
    monkeypatch.setattr(accounts, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")


def _server_url() -> str | None:
    url = os.environ.get("FEEDSVC_DATABASE_URL", "")
    return normalise_database_url(url) if url.startswith(("postgres", "postgresql")) else None


@pytest.fixture(scope="session")
def database_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Where test databases live: a migrated SQLite template, or a private PostgreSQL database."""
    server = _server_url()
    if server is None:
        folder = tmp_path_factory.mktemp("template")
        template = folder / "template.sqlite3"
        app = create_app(_config(folder, "sqlite:///" + str(template)))
        upgrade_database(app)
        get_engine(app).dispose()
        yield {"kind": "sqlite", "template": str(template)}
        return
    name = "feedsvc_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    app = create_app(_config(tmp_path_factory.mktemp("pg"), url))
    upgrade_database(app)
    get_engine(app).dispose()
    try:
        yield {"kind": "postgresql", "url": url, "server": server, "name": name}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _config(instance: Path, url: str, **extra: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "FEEDSVC_DATABASE_URL": url,
        "FEEDSVC_SECRET_KEY": SECRET_KEY,
        "FEEDSVC_BASE_URL": "https://feeds.example.org",
        **extra,
    }


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
    application = create_app(_config(tmp_path / "instance", database_url))
    yield application
    get_engine(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def recorded_statements(app: Flask, record: Callable[[str], None],
                        transaction_control: bool = False) -> Iterator[None]:
    """Pass every SQL statement the app sends to ``record``: both engines' and the warm
    path's driver-level probes; BEGIN, COMMIT and the like only with ``transaction_control``."""
    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if transaction_control or statement.split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            record(statement)

    engines = (get_engine(app), get_probe_engine(app))
    for engine in engines:
        event.listen(engine, "before_cursor_execute", listener)
    driver.statement_listeners.append(record)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", listener)
        driver.statement_listeners.remove(record)


def make_user(app: Flask, email: str = "user@example.com", **settings: Any) -> dict[str, Any]:
    """Create an account with an API token; returns its e-mail, id, password and token."""
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, email, PASSWORD, **settings)
        token = accounts.create_api_token(session, user, "tests")
        session.commit()
        return {"id": user.id, "email": user.email, "password": PASSWORD, "token": token.secret}


@pytest.fixture
def user(app: Flask) -> dict[str, Any]:
    return make_user(app)


@pytest.fixture
def other_user(app: Flask) -> dict[str, Any]:
    return make_user(app, "other@example.com")


class Api:
    """The test client with a bearer token, speaking JSON."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(path, headers=self.headers, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.patch(path, headers=self.headers, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.client.delete(path, headers=self.headers, **kwargs)


@pytest.fixture
def api(client: FlaskClient, user: dict[str, Any]) -> Api:
    return Api(client, user["token"])


@pytest.fixture
def other_api(app: Flask, other_user: dict[str, Any]) -> Api:
    return Api(app.test_client(), other_user["token"])


VALID_ITEM: dict[str, Any] = {
    "title": "MTS Russia",
    "category": "sim",
    "provider": "MTS",
    "phone_number": "+7 916 123 45 67",
    "country": "RU",
    "due_date": "2027-03-31",
    "repeat": {"every": 3, "unit": "month", "from": "schedule"},
    "grace_days": 30,
    "alarms": [{"days_before": 14, "at": "09:00"}, {"days_before": 0, "at": "09:00"}],
    "price": {"amount": "300.00", "currency": "RUB"},
    "bound_services": ["Sberbank", "Telegram"],
    "notes": "Top up in the app.\nCheck the balance.",
    "url": "https://mts.ru/",
    "auto_renew": False,
    "archived": False,
}


@pytest.fixture
def item(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/items", json=VALID_ITEM)
    assert response.status_code == 201, response.json
    return response.json
