"""The queue controls' tables: what an operator paused, and which job retries which.

They live beside the engine, as the budget's do beside the budget, on the catalog's ``Base``;
:mod:`reelforge.schema` lists this module, and migration 0010 creates them.

- ``queue_pauses``: one row per paused target, a provider's queue (``provider``, its id) or
  one run (``run``, its id). A row's presence is the pause; resuming deletes it. Every process
  reads it before a job's paid submit step, so a pause holds across workers.
- ``job_retries``: a job made by retrying a failed one (``retry_of``) in retry round
  ``round`` of its run (1, 2, ...). The failed job keeps its row and history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from reelforge.catalog.models import Base

__all__ = ["JobRetryRow", "QueuePauseRow"]


class QueuePauseRow(Base):
    """A paused provider queue or run: jobs not yet submitted wait while it exists."""

    __tablename__ = "queue_pauses"
    __table_args__ = (CheckConstraint("scope IN ('provider', 'run')", name="scope"),)

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused_at: Mapped[datetime]


class JobRetryRow(Base):
    """A job that retries a failed job of the same run."""

    __tablename__ = "job_retries"
    __table_args__ = (CheckConstraint("round >= 1", name="round"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    retry_of: Mapped[str] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), unique=True, index=True
    )
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
