"""Feed cache keeps only the gzipped calendar

Revision ID: 0006
Revises: 0005

Every cold feed request writes its calendar to the cache. Keeping the plain copy as well
meant writing ten times the bytes (about 90 KB against 9 KB for 50 items), which was the
largest part of a cold request's cost on both databases, and most calendar apps ask for
gzip anyway; the others now get the gzipped copy decompressed. Entries stay valid: their
gzipped copy holds the same calendar.
"""
from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feed_cache") as batch_op:
        batch_op.drop_column("body")


def downgrade() -> None:
    # Entries without their plain copy cannot be kept: they are only a cache, built again
    # on the next request for each feed.
    op.execute("DELETE FROM feed_cache")
    bind = op.get_bind()
    # SQLite adds a NOT NULL column without a default only by rebuilding the table (empty
    # now); PostgreSQL adds it in place, keeping the other columns' storage settings.
    recreate: Literal["always", "auto"] = "always" if bind.dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("feed_cache", recreate=recreate) as batch_op:
        batch_op.add_column(sa.Column("body", sa.LargeBinary(), nullable=False))
    if bind.dialect.name == "postgresql" and bind.scalar(text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
            "WHERE name = 'default_toast_compression'")):
        op.execute("ALTER TABLE feed_cache ALTER COLUMN body SET COMPRESSION lz4")
