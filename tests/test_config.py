"""Configuration: defaults, instance/config.py, the environment, and the database setup."""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import text

from feedsvc import create_app
from feedsvc.config import load_or_create_secret, normalise_database_url
from feedsvc.db import get_engine


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("FEEDSVC_SECRET_KEY", raising=False)
    first = create_app({"INSTANCE_PATH": str(tmp_path), "FEEDSVC_DATABASE_URL": "sqlite://"})
    second = create_app({"INSTANCE_PATH": str(tmp_path), "FEEDSVC_DATABASE_URL": "sqlite://"})
    key = first.config["SECRET_KEY"]
    assert len(key) >= 40
    assert key == second.config["SECRET_KEY"]
    secret_file = tmp_path / "secret_key"
    assert secret_file.read_text().strip() == key
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_each_instance_gets_its_own_secret(tmp_path):
    assert load_or_create_secret(str(tmp_path / "a")) != load_or_create_secret(str(tmp_path / "b"))


def test_environment_overrides_instance_config(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(
        'FEEDSVC_BASE_URL = "https://from-file.example"\n'
        'FEEDSVC_SECRET_KEY = "from-file"\n')
    app = create_app({"INSTANCE_PATH": str(tmp_path), "FEEDSVC_DATABASE_URL": "sqlite://"})
    assert app.config["FEEDSVC_BASE_URL"] == "https://from-file.example"
    assert app.config["SECRET_KEY"] == "from-file"
    monkeypatch.setenv("FEEDSVC_BASE_URL", "https://from-env.example")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "FEEDSVC_DATABASE_URL": "sqlite://"})
    assert app.config["FEEDSVC_BASE_URL"] == "https://from-env.example"


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("FEEDSVC_DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "FEEDSVC_SECRET_KEY": "k"})
    assert app.config["FEEDSVC_DATABASE_URL"] == "sqlite:///" + str(tmp_path / "feedsvc.sqlite3")


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_plain_postgresql_urls_use_psycopg_3(given, used):
    assert normalise_database_url(given) == used


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(app):
    engine = get_engine(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_body_limit_answers_413(api):
    response = api.client.post("/api/v1/items", headers=api.headers,
                               data=b"{" + b" " * 300_000 + b"}",
                               content_type="application/json")
    assert response.status_code == 413
    assert response.json["error"]["status"] == 413
