"""Outgoing webhooks: subscriptions, deliveries and the delivery log.

Revision ID: 0013
Revises: 0012

``hook_subscriptions`` (a project's, or one run's callback URL), ``hook_deliveries`` (one event
for one subscription, unique on the pair) and ``hook_attempts`` (every attempt of a delivery).
They refer to no feature's table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hook_subscriptions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(128), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", _json(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_subscriptions")),
        sa.CheckConstraint(
            "project_id IS NOT NULL OR run_id IS NOT NULL",
            name=op.f("ck_hook_subscriptions_scope"),
        ),
    )
    op.create_index(op.f("ix_hook_subscriptions_project_id"), "hook_subscriptions", ["project_id"])
    op.create_index(op.f("ix_hook_subscriptions_run_id"), "hook_subscriptions", ["run_id"])

    op.create_table(
        "hook_deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("subscription_id", sa.String(32), nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("body", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_deliveries")),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["hook_subscriptions.id"],
            name=op.f("fk_hook_deliveries_subscription_id_hook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "subscription_id",
            "event_key",
            name=op.f("uq_hook_deliveries_subscription_id_event_key"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_hook_deliveries_status")
        ),
    )
    op.create_index(
        op.f("ix_hook_deliveries_subscription_id"), "hook_deliveries", ["subscription_id"]
    )

    op.create_table(
        "hook_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("delivery_id", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hook_attempts")),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["hook_deliveries.id"],
            name=op.f("fk_hook_attempts_delivery_id_hook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "outcome IN ('delivered', 'failed', 'refused')", name=op.f("ck_hook_attempts_outcome")
        ),
    )
    op.create_index(op.f("ix_hook_attempts_delivery_id"), "hook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("hook_attempts")
    op.drop_table("hook_deliveries")
    op.drop_table("hook_subscriptions")
