"""The Alembic migrations and the models describe the same schema, on every database."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
