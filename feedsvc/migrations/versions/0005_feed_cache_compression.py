"""Feed cache bodies compressed with lz4 on PostgreSQL, gzip copies stored as they are

Revision ID: 0005
Revises: 0004

A cold feed request writes its body (about 90 KB for 50 items) and the server compresses it
before storing it out of line: lz4 does that several times faster than the default pglz, and
decompresses faster when a probe reads the body back. The gzip copy does not compress any
further, so the server is told not to try. SQLite stores both as they are; a PostgreSQL
server built without lz4 keeps its default.
"""
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has_lz4() -> bool:
    return bool(op.get_bind().scalar(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    if _has_lz4():
        op.execute("ALTER TABLE feed_cache ALTER COLUMN body SET COMPRESSION lz4")
    op.execute("ALTER TABLE feed_cache ALTER COLUMN body_gzip SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE feed_cache ALTER COLUMN body SET COMPRESSION default")
    op.execute("ALTER TABLE feed_cache ALTER COLUMN body_gzip SET STORAGE EXTENDED")
