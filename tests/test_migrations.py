"""The Alembic migrations and the models describe the same schema, on every database."""

from __future__ import annotations

import gzip
from urllib.parse import urlsplit

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, LargeBinary, MetaData, inspect, select, text

from feedsvc.cli import alembic_config
from feedsvc.db import get_engine
from feedsvc.models import Base, FeedCacheEntry


def schema_differences(app):
    with get_engine(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrated_database_matches_the_models(app):
    assert schema_differences(app) == []


def test_migrations_go_down_to_nothing_and_up_again(app):
    config = alembic_config(app)
    command.downgrade(config, "base")
    assert set(inspect(get_engine(app)).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert schema_differences(app) == []


def test_every_model_table_is_created_by_the_migrations(app):
    tables = set(inspect(get_engine(app)).get_table_names())
    assert set(Base.metadata.tables) <= tables


def feed_cache_storage(app) -> dict[str, tuple[str, str]]:
    with get_engine(app).connect() as connection:
        rows = connection.execute(text(
            "SELECT attname, attcompression, attstorage FROM pg_attribute "
            "WHERE attrelid = 'feed_cache'::regclass AND attname IN ('body', 'body_gzip') "
            "AND NOT attisdropped"))
        return {name: (compression, storage) for name, compression, storage in rows}


def test_on_postgresql_cached_bodies_are_stored_the_cheap_way(app):
    if get_engine(app).dialect.name != "postgresql":
        pytest.skip("column compression and storage are PostgreSQL's")
    with get_engine(app).connect() as connection:
        has_lz4 = connection.scalar(text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'"))
    assert feed_cache_storage(app) == {"body_gzip": ("", "e")}
    command.downgrade(alembic_config(app), "0005")
    assert feed_cache_storage(app) == {"body": ("l" if has_lz4 else "", "x"),
                                       "body_gzip": ("", "e")}
    command.downgrade(alembic_config(app), "0004")
    assert feed_cache_storage(app) == {"body": ("", "x"), "body_gzip": ("", "x")}
    command.upgrade(alembic_config(app), "head")
    assert feed_cache_storage(app) == {"body_gzip": ("", "e")}


def test_cached_feeds_stay_valid_when_the_plain_copy_is_dropped(app, api, item):
    feed = api.post("/api/v1/feeds", json={"name": "Kept"}).json
    path = urlsplit(feed["url"]).path
    built = api.client.get(path)
    assert built.status_code == 200
    engine = get_engine(app)
    with engine.connect() as connection:
        row = connection.execute(select(FeedCacheEntry.__table__)).mappings().one()
    # As an entry written before the upgrade: both copies.
    command.downgrade(alembic_config(app), "0005")
    with_body = FeedCacheEntry.__table__.to_metadata(MetaData())
    with_body.append_column(Column("body", LargeBinary, nullable=False))
    with engine.begin() as connection:
        connection.execute(with_body.insert(), {**row, "body": built.data})
    command.upgrade(alembic_config(app), "head")
    for encoding in ("identity", "gzip"):
        served = api.client.get(path, headers={"Accept-Encoding": encoding})
        assert served.status_code == 200
        plain = gzip.decompress(served.data) if encoding == "gzip" else served.data
        assert plain == built.data, encoding
    with engine.connect() as connection:
        assert connection.scalar(select(FeedCacheEntry.built_at)) == row["built_at"], \
            "served from the entry kept through the upgrade"


def test_going_down_past_the_gzip_only_cache_empties_it(app, api, item):
    feed = api.post("/api/v1/feeds", json={"name": "Dropped"}).json
    assert api.client.get(urlsplit(feed["url"]).path).status_code == 200
    command.downgrade(alembic_config(app), "0005")
    try:
        with get_engine(app).connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM feed_cache")).scalar_one() == 0
            assert "body" in {c["name"] for c in inspect(connection).get_columns("feed_cache")}
    finally:
        # On PostgreSQL the next tests use the same database.
        command.upgrade(alembic_config(app), "head")
    assert schema_differences(app) == []
