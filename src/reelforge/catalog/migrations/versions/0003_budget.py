"""The budget's tables: caps, reservations and their scopes, and the append-only ledger.

Revision ID: 0003
Revises: 0002
Create Date: 2025-02-15 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _money() -> sa.Numeric[object]:
    return sa.Numeric(12, 6)


def _event_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "budget_caps",
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(300), nullable=False),
        sa.Column("cap_usd", _money(), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("scope_kind", "scope_id", name=op.f("pk_budget_caps")),
        sa.CheckConstraint("period IN ('total', 'day')", name=op.f("ck_budget_caps_period")),
        sa.CheckConstraint("cap_usd >= 0", name=op.f("ck_budget_caps_cap_usd")),
    )

    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reserved_usd", _money(), nullable=False),
        sa.Column("actual_usd", _money(), nullable=True),
        sa.Column("charged_usd", _money(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reserved_at", _timestamp(), nullable=False),
        sa.Column("closed_at", _timestamp(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_reservations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_budget_reservations_idempotency_key")),
        sa.CheckConstraint(
            "status IN ('active', 'settled', 'released')",
            name=op.f("ck_budget_reservations_status"),
        ),
        sa.CheckConstraint("reserved_usd >= 0", name=op.f("ck_budget_reservations_reserved_usd")),
    )
    op.create_index(op.f("ix_budget_reservations_job_id"), "budget_reservations", ["job_id"])
    op.create_index(op.f("ix_budget_reservations_day"), "budget_reservations", ["day"])

    op.create_table(
        "budget_reservation_scopes",
        sa.Column("reservation_id", sa.String(32), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint(
            "reservation_id",
            "scope_kind",
            "scope_id",
            name=op.f("pk_budget_reservation_scopes"),
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["budget_reservations.id"],
            name=op.f("fk_budget_reservation_scopes_reservation_id_budget_reservations"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_budget_reservation_scopes_scope",
        "budget_reservation_scopes",
        ["scope_kind", "scope_id"],
    )

    op.create_table(
        "budget_ledger",
        sa.Column("id", _event_id(), autoincrement=True, nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reservation_id", sa.String(32), nullable=False),
        sa.Column("scopes", _json(), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("amount_usd", _money(), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_ledger")),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["budget_reservations.id"],
            name=op.f("fk_budget_ledger_reservation_id_budget_reservations"),
        ),
        sa.CheckConstraint(
            "kind IN ('reserve', 'settle', 'release')", name=op.f("ck_budget_ledger_kind")
        ),
    )
    op.create_index(op.f("ix_budget_ledger_at"), "budget_ledger", ["at"])
    op.create_index(op.f("ix_budget_ledger_reservation_id"), "budget_ledger", ["reservation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_budget_ledger_reservation_id"), table_name="budget_ledger")
    op.drop_index(op.f("ix_budget_ledger_at"), table_name="budget_ledger")
    op.drop_table("budget_ledger")
    op.drop_index("ix_budget_reservation_scopes_scope", table_name="budget_reservation_scopes")
    op.drop_table("budget_reservation_scopes")
    op.drop_index(op.f("ix_budget_reservations_day"), table_name="budget_reservations")
    op.drop_index(op.f("ix_budget_reservations_job_id"), table_name="budget_reservations")
    op.drop_table("budget_reservations")
    op.drop_table("budget_caps")
