"""One engine per app (so per gunicorn worker), one session per request."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from feedsvc.config import narrow_to_owner

ENGINE_KEY = "feedsvc.engine"
FEED_CONNECTIONS_KEY = "feedsvc.feed_connections"
SESSIONMAKER_KEY = "feedsvc.sessionmaker"
SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    if url.startswith("sqlite"):
        make_private_database_file(url)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_private_database_file(url: str) -> None:
    """Create a SQLite database file readable by its owner only (0600), or narrow it to that.

    SQLite gives its WAL and shared-memory files the database file's permissions, so they
    follow; those left by an earlier version are narrowed too.
    """
    parsed = make_url(url)
    database = parsed.database
    if (parsed.get_backend_name() != "sqlite" or not database or database == ":memory:"
            or database.startswith("file:")):
        return
    path = Path(database)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # a folder that does not exist: SQLite reports it when connecting
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        narrow_to_owner(name, 0o600)


def make_feed_engine(url: str) -> Engine:
    """The engine that answers feed URLs (``feedsvc.feed.serve``): autocommit connections.

    No ping before each checkout and no rollback on return: on PostgreSQL each would be one
    more round trip for a request that is otherwise one. A connection that fails is
    invalidated, and the request is answered again by the route.

    Its errors never show their parameters: they are feed tokens' hashes.

    The only thing it ever writes is the feed cache: an entry lost in a crash is only built
    again, so its commits do not wait for the disk (``synchronous_commit``), and a later
    durable commit flushes them anyway, in order.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                               pool_reset_on_return=None, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                         hide_parameters=True,
                         connect_args={"options": "-c synchronous_commit=off"})


def _sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes cannot wait for the write lock: when
    # another writer committed in between, SQLite answers "database is locked" at once,
    # whatever the busy timeout. So a request that may write (and any work outside a request,
    # such as the CLI) takes the write lock up front and waits its turn; reads stay deferred
    # and, in WAL mode, never wait for writers.
    writes = not has_request_context() or request.method not in READ_ONLY_METHODS
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Let SQLAlchemy's "begin" event start transactions instead of the driver, which would
    # begin them late and always deferred.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_app(app: Flask) -> None:
    """Attach the engine and the per-request session teardown to the app."""
    engine = make_engine(app.config["FEEDSVC_DATABASE_URL"])
    app.extensions[ENGINE_KEY] = engine
    feed = FeedConnections(make_feed_engine(app.config["FEEDSVC_DATABASE_URL"]))
    app.extensions[FEED_CONNECTIONS_KEY] = feed
    # Disposing of the app's engine (tests, scripts) closes the feed engine's connections too.
    event.listen(engine, "engine_disposed", lambda _engine: feed.dispose())
    app.extensions[SESSIONMAKER_KEY] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(close_session)


def get_engine(app: Flask | None = None) -> Engine:
    """The engine of the given (or current) app."""
    return (app or current_app).extensions[ENGINE_KEY]


def get_feed_engine(app: Flask) -> Engine:
    """The engine that answers feed URLs (``make_feed_engine``)."""
    return app.extensions[FEED_CONNECTIONS_KEY].engine


def feed_connections(app: Flask) -> FeedConnections:
    """The feed engine's kept connections (``FeedConnections``)."""
    return app.extensions[FEED_CONNECTIONS_KEY]


class FeedConnections:
    """The feed engine, and each thread's connection to it, kept between the feed requests
    the thread answers: a checkout from the pool and back would cost a tenth of a kept
    feed's answer (``benchmarks/README.md``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.local = threading.local()
        self.every: list[Connection] = []

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """The thread's connection, given back without a transaction; one that fails is
        closed, and the thread's next request opens another."""
        connection = getattr(self.local, "connection", None)
        if connection is None or connection.closed:
            connection = self.local.connection = self.engine.connect()
            self.every = [*(kept for kept in self.every if not kept.closed), connection]
        try:
            yield connection
            connection.rollback()
        except BaseException:
            connection.close()
            raise

    def dispose(self) -> None:
        """Close every thread's connection, and the engine's pool."""
        for connection in self.every:
            connection.close()
        self.engine.dispose()


def new_session(app: Flask | None = None) -> Session:
    """A fresh session outside a request (CLI, scripts); the caller closes it."""
    return (app or current_app).extensions[SESSIONMAKER_KEY]()


def get_session() -> Session:
    """The current request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def close_session(exc: BaseException | None = None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
