"""An index on the runs' status and creation time: ``ix_runs_status_created_at``.

Revision ID: 0009
Revises: 0008

Every process that runs work looks, each heartbeat, for ``pending`` runs older than a grace
period (runs recorded but never started, see ``reelforge.engine.stranded``). With this index
that look reads only the pending runs, however many runs have ended.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_runs_status_created_at", "runs", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_status_created_at", table_name="runs")
