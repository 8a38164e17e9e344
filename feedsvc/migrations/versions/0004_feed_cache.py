"""Feed cache table, and the index behind its fingerprint query

Revision ID: 0004
Revises: 0003
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_cache",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("body_gzip", sa.LargeBinary(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"],
                                name=op.f("fk_feed_cache_feed_id_feeds"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("feed_id", "variant", name=op.f("pk_feed_cache")),
    )
    # A plain CREATE INDEX: a batch rebuild of "items" would drop its SQLite AUTOINCREMENT.
    op.create_index("ix_items_user_id_id_version", "items", ["user_id", "id", "version"])


def downgrade() -> None:
    op.drop_index("ix_items_user_id_id_version", table_name="items")
    op.drop_table("feed_cache")
