"""Push channels and digests: each channel's sealed Apprise URL, and the local day of its
last digest

Revision ID: 0008
Revises: 0007

Both columns are empty for the e-mail channels that exist: an address has no secret, and no
digest was taken on yet.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("channels", sa.Column("secret", sa.Text(), nullable=True))
    op.add_column("channels", sa.Column("digest_day", sa.Date(), nullable=True))


def downgrade() -> None:
    # Push channels cannot exist without their URL.
    op.execute("DELETE FROM channels WHERE kind = 'apprise'")
    # SQLite 3.35+ drops a column in place.
    op.drop_column("channels", "digest_day")
    op.drop_column("channels", "secret")
