"""Items remember the carrier preset they follow

Revision ID: 0009
Revises: 0008

Empty for the items that exist: a preset is chosen, never guessed.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("carrier", sa.String(length=40), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place, keeping the table's AUTOINCREMENT.
    op.drop_column("items", "carrier")
