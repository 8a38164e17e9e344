"""The instance folder and what the service writes there are its owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from feedsvc import create_app
from feedsvc.cli import upgrade_database
from feedsvc.db import get_engine, make_private_database_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def embedded_app(instance: Path) -> None:
    """Start the embedded default in ``instance``, migrate it and write to it once."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance),
                      "FEEDSVC_DATABASE_URL": None, "FEEDSVC_SECRET_KEY": None})
    upgrade_database(app)
    with get_engine(app).begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS scratch (x INTEGER)"))
        # The WAL and its index exist while a connection is open.
        connection.execute(text("SELECT 1"))
        files = {path.name: mode(path) for path in instance.iterdir()}
    get_engine(app).dispose()
    assert files == {"secret_key": 0o600, "feedsvc.sqlite3": 0o600,
                     "feedsvc.sqlite3-wal": 0o600, "feedsvc.sqlite3-shm": 0o600}


def test_a_new_instance_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which would make files 0644
    try:
        embedded_app(tmp_path / "instance")
    finally:
        os.umask(old)
    assert mode(tmp_path / "instance") == 0o700


def test_an_instance_left_open_by_an_earlier_version_is_narrowed(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    embedded_app(instance)
    instance.chmod(0o755)
    for path in instance.iterdir():
        path.chmod(0o644)
    embedded_app(instance)
    assert mode(instance) == 0o700


def test_other_database_urls_are_left_alone(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@h/db",
                "sqlite:///file:x.sqlite3?mode=memory&uri=true",
                f"sqlite:///{tmp_path}/missing/folder/x.sqlite3"):
        make_private_database_file(url)
    assert list(tmp_path.iterdir()) == []
    make_private_database_file(f"sqlite:///{tmp_path}/x.sqlite3")
    assert mode(tmp_path / "x.sqlite3") == 0o600
