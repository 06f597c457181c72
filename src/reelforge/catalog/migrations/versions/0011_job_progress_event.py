"""Run events of kind ``job_progress``: a running job's progress as its provider reports it.

Revision ID: 0011
Revises: 0010

A provider that says how far a job has come (step k of n, a fraction) has it carried to run
events, SSE, the run page and the CLI bar; the closed vocabulary of ``run_events.kind`` gains
the kind. SQLite rebuilds the table (batch mode) to change the check.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = (
    "'queued', 'started', 'job_started', 'job_retrying', 'job_pending', 'job_succeeded', "
    "'job_failed', 'job_canceled', 'completed'"
)
_AFTER = _BEFORE + ", 'job_progress'"


def _check(kinds: str) -> None:
    with op.batch_alter_table("run_events") as batch:
        batch.drop_constraint(op.f("ck_run_events_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_run_events_kind"), f"kind IN ({kinds})")


def upgrade() -> None:
    _check(_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM run_events WHERE kind = 'job_progress'")
    _check(_BEFORE)
