"""Reminders: channels, deliveries, snoozes, the sender's last pass, each item's next
reminder moment, action links

Revision ID: 0007
Revises: 0006

Every account gets its address as its first channel, not yet confirmed: nothing is sent to
an address before its owner confirms it. Every item is planned for the next sender pass,
which works out its reminder moments and moves the plan on.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=2000), nullable=False),
        sa.Column("account", sa.Boolean(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.String(length=5), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pause_reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_channels_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint("user_id", "kind", "target",
                            name=op.f("uq_channels_user_id")),
    )
    op.create_index(op.f("ix_channels_user_id"), "channels", ["user_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_deliveries_user_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"],
                                name=op.f("fk_deliveries_channel_id_channels"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"],
                                name=op.f("fk_deliveries_item_id_items"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("channel_id", "item_id", "kind", "due_date", "planned_at",
                            name=op.f("uq_deliveries_channel_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_deliveries_status_next_attempt_at", "deliveries",
                    ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_user_id_id", "deliveries", ["user_id", "id"])
    op.create_index("ix_deliveries_item_id_due_date", "deliveries", ["item_id", "due_date"])
    op.create_table(
        "snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"],
                                name=op.f("fk_snoozes_item_id_items"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snoozes")),
    )
    op.create_index("ix_snoozes_item_id_due_date", "snoozes", ["item_id", "due_date"])
    op.create_table(
        "sender_passes",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_passes")),
    )
    # Plain ALTER TABLE ADD COLUMN and CREATE INDEX: a batch rebuild of "items" would drop
    # its SQLite AUTOINCREMENT.
    op.add_column("items", sa.Column("next_reminder_at", sa.DateTime(timezone=True),
                                     nullable=True))
    op.create_index("ix_items_next_reminder_at", "items", ["next_reminder_at"])
    op.add_column("feeds", sa.Column("action_links", sa.Boolean(), nullable=False,
                                     server_default=sa.true()))
    op.execute(sa.text(
        "INSERT INTO channels (user_id, kind, name, target, account, enabled, failures, "
        "created_at) SELECT id, 'email', email, email, :yes, :yes, 0, CURRENT_TIMESTAMP "
        "FROM users").bindparams(yes=True))
    op.execute(sa.text("UPDATE items SET next_reminder_at = CURRENT_TIMESTAMP "
                       "WHERE archived = :no").bindparams(no=False))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch_op:
        batch_op.drop_column("action_links")
    op.drop_index("ix_items_next_reminder_at", table_name="items")
    # SQLite 3.35+ drops a column in place, keeping the table's AUTOINCREMENT.
    op.drop_column("items", "next_reminder_at")
    op.drop_table("sender_passes")
    op.drop_table("snoozes")
    op.drop_table("deliveries")
    op.drop_table("channels")
