"""The Alembic migrations and the models describe the same schema, on every database."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
import pytest
from sqlalchemy import inspect, text

from feedsvc.cli import alembic_config
from feedsvc.db import get_engine
from feedsvc.models import Base


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
            "WHERE attrelid = 'feed_cache'::regclass AND attname IN ('body', 'body_gzip')"))
        return {name: (compression, storage) for name, compression, storage in rows}


def test_on_postgresql_cached_bodies_are_stored_the_cheap_way(app):
    if get_engine(app).dialect.name != "postgresql":
        pytest.skip("column compression and storage are PostgreSQL's")
    with get_engine(app).connect() as connection:
        has_lz4 = connection.scalar(text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'"))
    expected = {"body": ("l" if has_lz4 else "", "x"), "body_gzip": ("", "e")}
    assert feed_cache_storage(app) == expected
    command.downgrade(alembic_config(app), "0004")
    assert feed_cache_storage(app) == {"body": ("", "x"), "body_gzip": ("", "x")}
