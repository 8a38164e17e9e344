"""Never reuse item and renewal ids on SQLite (they are part of feed event UIDs)

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("items", "renewals")


def _set_autoincrement(enabled: bool) -> None:
    # PostgreSQL sequences never hand out an id twice; only SQLite needs its table rebuilt.
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": enabled}):
            pass


def upgrade() -> None:
    _set_autoincrement(True)


def downgrade() -> None:
    _set_autoincrement(False)
