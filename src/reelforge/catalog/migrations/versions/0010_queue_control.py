"""The queue controls' tables: ``queue_pauses`` (paused provider queues and runs) and
``job_retries`` (which job retries which failed job, in which round of its run).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queue_pauses",
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("paused_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "target", name=op.f("pk_queue_pauses")),
        sa.CheckConstraint("scope IN ('provider', 'run')", name=op.f("ck_queue_pauses_scope")),
    )
    op.create_table(
        "job_retries",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("retry_of", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_retries")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_retries_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["retry_of"],
            ["jobs.id"],
            name=op.f("fk_job_retries_retry_of_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_job_retries_run_id_runs"), ondelete="CASCADE"
        ),
        sa.CheckConstraint("round >= 1", name=op.f("ck_job_retries_round")),
    )
    op.create_index(op.f("ix_job_retries_retry_of"), "job_retries", ["retry_of"], unique=True)
    op.create_index(op.f("ix_job_retries_run_id"), "job_retries", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_job_retries_run_id"), table_name="job_retries")
    op.drop_index(op.f("ix_job_retries_retry_of"), table_name="job_retries")
    op.drop_table("job_retries")
    op.drop_table("queue_pauses")
