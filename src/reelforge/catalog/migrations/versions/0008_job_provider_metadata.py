"""The provider's metadata on the job: ``jobs.provider_metadata``.

Revision ID: 0008
Revises: 0007

How the provider made a job's outputs (model, seed, steps, timings, the vendor's own ids) was
only in the job's history, in its ``succeeded`` status event; readers of the outputs had to
scan that history. Jobs that succeeded before this revision get theirs copied from that event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("provider_metadata", _json(), nullable=True))
    _copy_from_history()


def _copy_from_history() -> None:
    jobs = sa.table(
        "jobs",
        sa.column("id", sa.String),
        sa.column("status"),
        sa.column("provider_metadata", _json()),
    )
    events = sa.table(
        "job_events",
        sa.column("id"),
        sa.column("job_id"),
        sa.column("kind"),
        sa.column("status"),
        sa.column("payload", _json()),
    )
    connection = op.get_bind()
    succeeded = connection.execute(
        sa.select(events.c.job_id, events.c.payload)
        .join(jobs, jobs.c.id == events.c.job_id)
        .where(
            jobs.c.status == "succeeded",
            events.c.kind == "status",
            events.c.status == "succeeded",
        )
        .order_by(events.c.id)
    ).all()
    found: dict[str, dict[str, Any]] = {}
    for job_id, payload in succeeded:
        detail = payload.get("detail") if isinstance(payload, dict) else None
        result = detail.get("result") if isinstance(detail, dict) else None
        if isinstance(result, dict):
            found[job_id] = result
    update = (
        sa.update(jobs)
        .where(jobs.c.id == sa.bindparam("job_id"))
        .values(provider_metadata=sa.bindparam("metadata"))
    )
    rows = [{"job_id": job_id, "metadata": metadata} for job_id, metadata in found.items()]
    for start in range(0, len(rows), _BATCH):
        connection.execute(update, rows[start : start + _BATCH])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("provider_metadata")
