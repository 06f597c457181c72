"""The trace context of runs and jobs: ``runs.traceparent`` and ``jobs.traceparent``.

Revision ID: 0012
Revises: 0011

A run records the W3C ``traceparent`` of its span (the request that started it, or the
orchestrator's trace id), and each of its jobs carries it, so the processes that run the jobs
write their spans and log lines under the same trace. Runs and jobs recorded before this
revision have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("traceparent")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("traceparent")
