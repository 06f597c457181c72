"""The engine's tables: run progress events, received webhooks, worker heartbeats.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN_EVENT_KINDS = (
    "'queued', 'started', 'job_started', 'job_retrying', 'job_pending', 'job_succeeded', "
    "'job_failed', 'job_canceled', 'completed'"
)
_WEBHOOK_OUTCOMES = "'delivered', 'duplicate', 'late', 'unknown', 'invalid'"


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _event_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "run_events",
        sa.Column("id", _event_id(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_events")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_events_run_id_runs"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("run_id", "key", name=op.f("uq_run_events_run_id_key")),
        sa.CheckConstraint(f"kind IN ({_RUN_EVENT_KINDS})", name=op.f("ck_run_events_kind")),
    )
    op.create_index(op.f("ix_run_events_run_id"), "run_events", ["run_id"])

    op.create_table(
        "webhook_events",
        sa.Column("id", _event_id(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("received_at", _timestamp(), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=True),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("body", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_webhook_events_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            f"outcome IN ({_WEBHOOK_OUTCOMES})", name=op.f("ck_webhook_events_outcome")
        ),
    )
    op.create_index(op.f("ix_webhook_events_received_at"), "webhook_events", ["received_at"])
    op.create_index(op.f("ix_webhook_events_job_id"), "webhook_events", ["job_id"])
    op.create_index("ix_webhook_events_provider_event", "webhook_events", ["provider", "event_id"])

    op.create_table(
        "engine_workers",
        sa.Column("executor_id", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("incarnation", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("app_version", sa.String(64), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("beat_at", _timestamp(), nullable=False),
        sa.Column("stopped_at", _timestamp(), nullable=True),
        sa.Column("reaped_at", _timestamp(), nullable=True),
        sa.Column("reaped_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("executor_id", name=op.f("pk_engine_workers")),
    )
    op.create_index(op.f("ix_engine_workers_beat_at"), "engine_workers", ["beat_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_engine_workers_beat_at"), table_name="engine_workers")
    op.drop_table("engine_workers")
    op.drop_index("ix_webhook_events_provider_event", table_name="webhook_events")
    op.drop_index(op.f("ix_webhook_events_job_id"), table_name="webhook_events")
    op.drop_index(op.f("ix_webhook_events_received_at"), table_name="webhook_events")
    op.drop_table("webhook_events")
    op.drop_index(op.f("ix_run_events_run_id"), table_name="run_events")
    op.drop_table("run_events")
