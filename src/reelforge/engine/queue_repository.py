"""The queue controls' SQL: pauses, retry rounds, and the per-provider queue view.

Every method is one transaction. A retry round's new jobs, their links to the failed jobs,
the notes in the failed jobs' histories, the run's status and its ``queued`` event are
written together (:meth:`QueueRepository.record_retry`), so a reader never sees half a retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, delete, func, or_, select

from reelforge.catalog.models import Job, JobEvent, Run
from reelforge.catalog.records import JobRecord
from reelforge.catalog.repositories import NewJob, NewRunEvent, Repository
from reelforge.catalog.repositories.engine import add_run_event
from reelforge.catalog.repositories.job_rows import job_record
from reelforge.engine.queue_tables import JobRetryRow, QueuePauseRow
from reelforge.errors import NotFound

__all__ = ["PauseScope", "ProviderQueueCounts", "QueuePause", "QueueRepository", "RetryPair"]

PauseScope = Literal["provider", "run"]


@dataclass(frozen=True, slots=True)
class QueuePause:
    """A paused provider queue or run."""

    scope: PauseScope
    target: str
    paused_at: datetime


@dataclass(frozen=True, slots=True)
class ProviderQueueCounts:
    """One provider's open jobs: submitted (``running``), waiting (``queued``), of which
    ``held`` by a pause of their run, and when the oldest waiting job was queued."""

    provider: str
    running: int
    queued: int
    held_by_run: int
    oldest_queued_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetryPair:
    """A failed job and the job that retries it."""

    failed: JobRecord
    retry: NewJob


class QueueRepository(Repository):
    """Pauses, retry links and queue counts, on the catalog's database."""

    # -- pauses ------------------------------------------------------------------------------

    async def pause(self, scope: PauseScope, target: str) -> QueuePause:
        """Pause ``target``; pausing it again keeps the first pause's time."""
        async with self._write() as session:
            row = await session.get(QueuePauseRow, (scope, target))
            if row is None:
                row = QueuePauseRow(scope=scope, target=target, paused_at=self._now())
                session.add(row)
                await session.flush()
            return _pause(row)

    async def resume(self, scope: PauseScope, target: str) -> bool:
        """Lift the pause; whether there was one."""
        async with self._write() as session:
            result = await session.execute(
                delete(QueuePauseRow).where(
                    QueuePauseRow.scope == scope, QueuePauseRow.target == target
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def pauses(self) -> list[QueuePause]:
        query = select(QueuePauseRow).order_by(QueuePauseRow.paused_at)
        async with self._read() as session:
            return [_pause(row) for row in await session.scalars(query)]

    async def holding(self, provider: str, run_id: str | None) -> PauseScope | None:
        """What holds a job of ``provider`` in run ``run_id`` back, if anything."""
        condition: ColumnElement[bool] = (QueuePauseRow.scope == "provider") & (
            QueuePauseRow.target == provider
        )
        if run_id is not None:
            condition = or_(
                condition, (QueuePauseRow.scope == "run") & (QueuePauseRow.target == run_id)
            )
        async with self._read() as session:
            scopes = set(await session.scalars(select(QueuePauseRow.scope).where(condition)))
        if "provider" in scopes:
            return "provider"
        return "run" if scopes else None

    # -- retries -----------------------------------------------------------------------------

    async def retry_round(self, run_id: str) -> int:
        """The run's latest retry round (0: never retried)."""
        query = select(func.max(JobRetryRow.round)).where(JobRetryRow.run_id == run_id)
        async with self._read() as session:
            return int(await session.scalar(query) or 0)

    async def retried_job_ids(self, run_id: str) -> set[str]:
        """The run's jobs that a later job retries (superseded in its outcome)."""
        query = select(JobRetryRow.retry_of).where(JobRetryRow.run_id == run_id)
        async with self._read() as session:
            return set(await session.scalars(query))

    async def retry_of(self, job_ids: Sequence[str]) -> dict[str, str]:
        """For each of ``job_ids`` made by a retry: the job it retries."""
        query = select(JobRetryRow.job_id, JobRetryRow.retry_of).where(
            JobRetryRow.job_id.in_(list(job_ids))
        )
        async with self._read() as session:
            return {job_id: old for job_id, old in await session.execute(query)}

    async def record_retry(
        self, run_id: str, round_: int, pairs: Sequence[RetryPair], run_event: NewRunEvent
    ) -> list[JobRecord]:
        """Round ``round_`` of the run: its new queued jobs, linked to the failed ones, and the
        run back to ``running``, in one transaction."""
        now = self._now()
        async with self._write() as session:
            run = await session.get(Run, run_id, with_for_update=True)
            if run is None:
                raise NotFound(f"No run {run_id!r}.", details={"run_id": run_id})
            rows = [
                pair.retry.row(run_id, now + timedelta(microseconds=i))
                for i, pair in enumerate(pairs)
            ]
            session.add_all(rows)
            await session.flush()
            for pair, row in zip(pairs, rows, strict=True):
                session.add(
                    JobRetryRow(
                        job_id=row.id,
                        retry_of=pair.failed.id,
                        run_id=run_id,
                        round=round_,
                        created_at=now,
                    )
                )
                session.add(
                    JobEvent(job_id=row.id, at=now, kind="status", status="queued", payload={})
                )
                session.add(
                    JobEvent(
                        job_id=row.id,
                        at=now,
                        kind="note",
                        payload={"retry_of": pair.failed.id, "retry_round": round_},
                    )
                )
                session.add(
                    JobEvent(
                        job_id=pair.failed.id,
                        at=now,
                        kind="note",
                        payload={"retried_by": row.id, "retry_round": round_},
                    )
                )
            run.status = "running"
            run.updated_at = now
            await add_run_event(session, run_event, run_id=run_id, job_id=None, at=now)
            await session.flush()
            return [job_record(row) for row in rows]

    # -- the queue view ----------------------------------------------------------------------

    async def provider_counts(self, paused_runs: Sequence[str]) -> list[ProviderQueueCounts]:
        """Open jobs by provider (see :class:`ProviderQueueCounts`)."""
        open_jobs = Job.status.in_(("queued", "running"))
        by_status = (
            select(Job.provider, Job.status, func.count(), func.min(Job.created_at))
            .where(open_jobs)
            .group_by(Job.provider, Job.status)
        )
        held = (
            select(Job.provider, func.count())
            .where(Job.status == "queued", Job.run_id.in_(list(paused_runs)))
            .group_by(Job.provider)
        )
        counts: dict[str, dict[str, int]] = {}
        oldest: dict[str, datetime] = {}
        async with self._read() as session:
            for provider, status, count, first in await session.execute(by_status):
                counts.setdefault(provider, {})[status] = count
                if status == "queued":
                    oldest[provider] = first
            held_counts = (
                dict((p, c) for p, c in await session.execute(held)) if paused_runs else {}
            )
        return [
            ProviderQueueCounts(
                provider=provider,
                running=counts[provider].get("running", 0),
                queued=counts[provider].get("queued", 0),
                held_by_run=held_counts.get(provider, 0),
                oldest_queued_at=oldest.get(provider),
            )
            for provider in sorted(counts)
        ]

    async def queued_jobs(
        self, *, provider: str | None = None, project_id: str | None = None
    ) -> list[JobRecord]:
        """Jobs not yet submitted (``queued``), of a provider or of a project's runs."""
        query = select(Job).where(Job.status == "queued")
        if provider is not None:
            query = query.where(Job.provider == provider)
        if project_id is not None:
            query = query.join(Run, Run.id == Job.run_id).where(Run.project_id == project_id)
        async with self._read() as session:
            return [
                job_record(row) for row in await session.scalars(query.order_by(Job.created_at))
            ]


def _pause(row: QueuePauseRow) -> QueuePause:
    scope: PauseScope = "provider" if row.scope == "provider" else "run"
    return QueuePause(scope=scope, target=row.target, paused_at=row.paused_at)
