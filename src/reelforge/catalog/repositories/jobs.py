"""Jobs: one provider call each, with an append-only history and its output assets.

A job's status is a small state machine::

    queued ──> running ──> succeeded | failed | canceled
      │  <──────┘ (requeued for a retry)
      └──────────────────> succeeded | failed | canceled

Every change appends a ``status`` event in the same transaction. Asking for the status a job
already has is a no-op (a duplicate webhook, or a poll that lost the race to it); leaving a
terminal status raises Conflict.

A :class:`JobStatusObserver` given to the repository hears of each change once it is committed
(the metrics count there: a change happens once, however often a step asks for it).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reelforge.catalog.models import Asset, Job, JobAsset, JobEvent, Run
from reelforge.catalog.records import (
    JOB_EVENT_KINDS,
    JOB_STATUSES,
    TERMINAL_JOB_STATUSES,
    AssetRecord,
    JobError,
    JobEventKind,
    JobEventRecord,
    JobRecord,
    JobStatus,
    WorkerFence,
)
from reelforge.catalog.repositories._base import (
    Clock,
    Repository,
    check_choice,
    check_page,
    json_document,
    utc_now,
)
from reelforge.catalog.repositories.assets import asset_record
from reelforge.catalog.repositories.engine import NewRunEvent, add_run_event, hold_fence
from reelforge.catalog.repositories.job_rows import (
    NEXT_STATUSES,
    JobChanges,
    NewJob,
    enter_status,
    event_record,
    job_by_provider_request,
    job_record,
    link_assets,
    linked_asset_ids,
    missing_job,
    valid_cost,
)
from reelforge.errors import Conflict, InvalidInput, NotFound

__all__ = ["JobRepository", "NewJob"]


async def _history(session: AsyncSession, job_id: str) -> list[JobEventRecord]:
    rows = await session.scalars(
        select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
    )
    return [event_record(row) for row in rows]


async def _locked_job(session: AsyncSession, job_id: str) -> Job:
    row = await session.get(Job, job_id, with_for_update=True)
    if row is None:
        raise missing_job(job_id)
    return row


class JobStatusObserver(Protocol):
    """Hears of each committed change of a job's status: ``previous`` is the status it left,
    ``feature`` its run's feature (None for a job of no run)."""

    def job_status_changed(self, previous: str, job: JobRecord, feature: str | None) -> None: ...


class JobRepository(Repository):
    """Provider calls, their status history and their outputs."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock = utc_now,
        observer: JobStatusObserver | None = None,
    ) -> None:
        super().__init__(sessions, clock=clock)
        self._observer = observer

    async def create(
        self,
        *,
        provider: str,
        model: str,
        capability: str,
        request: Mapping[str, Any],
        run_id: str | None = None,
        prompt: str | None = None,
        template_name: str | None = None,
        template_version: int | None = None,
    ) -> JobRecord:
        """A queued job; ``request`` is what was asked, and must never hold a credential."""
        new = NewJob(provider, model, capability, request, prompt, template_name, template_version)
        return (await self.create_many([new], run_id=run_id))[0]

    async def create_many(
        self,
        jobs: Sequence[NewJob],
        *,
        run_id: str | None = None,
        run_event: NewRunEvent | None = None,
        traceparent: str | None = None,
    ) -> builtins.list[JobRecord]:
        """Queued jobs, in one transaction; :meth:`list_for_run` returns them in this order.
        ``run_event`` (the run's ``queued`` event) is appended in the same transaction;
        ``traceparent`` (the run's) is carried by each job."""
        now = self._now()
        # A microsecond apart: jobs are listed by creation time, and ids are random.
        rows = [
            job.row(run_id, now + timedelta(microseconds=i), traceparent)
            for i, job in enumerate(jobs)
        ]
        async with self._write() as session:
            if run_id is not None and await session.get(Run, run_id) is None:
                raise NotFound(f"No run {run_id!r}.", details={"run_id": run_id})
            if run_id is not None and run_event is not None:
                await add_run_event(session, run_event, run_id=run_id, job_id=None, at=now)
            session.add_all(rows)
            await session.flush()
            session.add_all(
                JobEvent(
                    job_id=row.id, at=row.created_at, kind="status", status="queued", payload={}
                )
                for row in rows
            )
            return [job_record(row) for row in rows]

    async def get(self, job_id: str) -> JobRecord:
        async with self._read() as session:
            row = await session.get(Job, job_id)
            if row is None:
                raise missing_job(job_id)
            links = await linked_asset_ids(session, [job_id])
            return job_record(row, links[job_id])

    async def ids_starting_with(self, prefix: str, *, limit: int = 10) -> builtins.list[str]:
        """The ids of the jobs whose id starts with ``prefix`` (at most ``limit``, in order)."""
        query = select(Job.id).where(Job.id.startswith(prefix, autoescape=True))
        async with self._read() as session:
            return list(await session.scalars(query.order_by(Job.id).limit(limit)))

    async def open_counts(self) -> dict[tuple[str, str], int]:
        """How many jobs are queued and running, by ``(provider, status)``."""
        query = (
            select(Job.provider, Job.status, func.count())
            .where(Job.status.in_(("queued", "running")))
            .group_by(Job.provider, Job.status)
        )
        async with self._read() as session:
            rows = await session.execute(query)
            return {(provider, status): count for provider, status, count in rows}

    async def get_by_provider_request(self, provider: str, provider_request_id: str) -> JobRecord:
        """The job a webhook or poll result is about; the newest if a provider reused an id."""
        async with self._read() as session:
            return await job_by_provider_request(session, provider, provider_request_id)

    async def transition(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error: JobError | None = None,
        cost: Decimal | None = None,
        provider_request_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
        provider_metadata: Mapping[str, Any] | None = None,
        run_event: NewRunEvent | None = None,
        fence: WorkerFence | None = None,
    ) -> JobRecord:
        """Move a job to ``status``, recording the change (and ``payload``) in its history.

        Entering ``running`` counts an attempt; entering a terminal status sets ``finished_at``.
        Within the same non-terminal status, only the given fields are updated. ``run_event``
        goes to the job's run (if any) with a status change, in its transaction.
        ``provider_metadata`` is kept on the job itself, for readers of its outputs.
        ``fence``: refused (WorkerFenced) unless that worker still holds its work.
        """
        check_choice(status, JOB_STATUSES, "status")
        checked_cost = None if cost is None else valid_cost(cost)
        detail = None if payload is None else json_document(payload, "payload")
        metadata = (
            None
            if provider_metadata is None
            else json_document(provider_metadata, "provider_metadata")
        )
        feature: str | None = None
        async with self._write() as session:
            await hold_fence(session, fence)
            row = await _locked_job(session, job_id)
            previous = row.status
            unchanged = (error, checked_cost, provider_request_id) == (None, None, None)
            if previous == status and (status in TERMINAL_JOB_STATUSES or unchanged):
                return job_record(row, (await linked_asset_ids(session, [job_id]))[job_id])
            if previous != status and status not in NEXT_STATUSES.get(previous, frozenset()):
                raise Conflict(
                    f"Job {job_id!r} is {previous}; it cannot become {status}.",
                    details={"job_id": job_id, "status": previous, "requested": status},
                )
            now = self._now()
            changes = JobChanges(error, checked_cost, provider_request_id, detail, metadata)
            changes.apply(row, now)
            if previous != status:
                enter_status(row, status, now)
                session.add(
                    JobEvent(
                        job_id=job_id,
                        at=now,
                        kind="status",
                        status=status,
                        payload=changes.event_payload(previous),
                    )
                )
                if run_event is not None and row.run_id is not None:
                    await add_run_event(
                        session, run_event, run_id=row.run_id, job_id=job_id, at=now
                    )
                if self._observer is not None and row.run_id is not None:
                    feature = await session.scalar(select(Run.feature).where(Run.id == row.run_id))
            await session.flush()
            record = job_record(row, (await linked_asset_ids(session, [job_id]))[job_id])
        if self._observer is not None and previous != status:
            self._observer.job_status_changed(previous, record, feature)
        return record

    async def append_event(
        self,
        job_id: str,
        kind: JobEventKind,
        payload: Mapping[str, Any],
        *,
        status: JobStatus | None = None,
        fence: WorkerFence | None = None,
    ) -> JobEventRecord:
        """Record a webhook, a poll result or a note. Status changes go through ``transition``.
        ``fence``: refused (WorkerFenced) unless that worker still holds its work."""
        check_choice(kind, JOB_EVENT_KINDS, "kind")
        if kind == "status":
            raise InvalidInput(
                "Status events are written by transition(), with the status change.",
                details={"field": "kind"},
            )
        if status is not None:
            check_choice(status, JOB_STATUSES, "status")
        document = json_document(payload, "payload")
        async with self._write() as session:
            await hold_fence(session, fence)
            if await session.get(Job, job_id) is None:
                raise missing_job(job_id)
            row = JobEvent(
                job_id=job_id, at=self._now(), kind=kind, status=status, payload=document
            )
            session.add(row)
            await session.flush()
            return event_record(row)

    async def events(self, job_id: str) -> builtins.list[JobEventRecord]:
        """The job's history, oldest first."""
        async with self._read() as session:
            if await session.get(Job, job_id) is None:
                raise missing_job(job_id)
            return await _history(session, job_id)

    async def with_history(self, job_id: str) -> tuple[JobRecord, builtins.list[JobEventRecord]]:
        """The job and its history (oldest first), as one read sees them: what
        :meth:`get` and :meth:`events` return, in one transaction."""
        async with self._read() as session:
            row = await session.get(Job, job_id)
            if row is None:
                raise missing_job(job_id)
            links = await linked_asset_ids(session, [job_id])
            return job_record(row, links[job_id]), await _history(session, job_id)

    async def list_for_run(self, run_id: str) -> builtins.list[JobRecord]:
        """The run's jobs in the order they were created."""
        async with self._read() as session:
            if await session.get(Run, run_id) is None:
                raise NotFound(f"No run {run_id!r}.", details={"run_id": run_id})
            rows = list(
                await session.scalars(
                    select(Job).where(Job.run_id == run_id).order_by(Job.created_at, Job.id)
                )
            )
            links = await linked_asset_ids(session, [row.id for row in rows])
            return [job_record(row, links[row.id]) for row in rows]

    async def list(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        status: JobStatus | None = None,
        provider: str | None = None,
    ) -> builtins.list[JobRecord]:
        """Newest first."""
        check_page(limit, offset)
        query = select(Job).order_by(Job.created_at.desc(), Job.id.desc())
        if status is not None:
            check_choice(status, JOB_STATUSES, "status")
            query = query.where(Job.status == status)
        if provider is not None:
            query = query.where(Job.provider == provider)
        async with self._read() as session:
            rows = list(await session.scalars(query.limit(limit).offset(offset)))
            links = await linked_asset_ids(session, [row.id for row in rows])
            return [job_record(row, links[row.id]) for row in rows]

    async def attach_assets(self, job_id: str, asset_ids: Sequence[str]) -> JobRecord:
        """Append outputs to a job. Assets it already has are skipped, so a replay is harmless."""
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            linked = await link_assets(session, row, asset_ids, self._now())
            return job_record(row, linked)

    async def outputs(self, job_id: str) -> builtins.list[AssetRecord]:
        """The job's output assets, in order."""
        async with self._read() as session:
            if await session.get(Job, job_id) is None:
                raise missing_job(job_id)
            rows = await session.scalars(
                select(Asset)
                .join(JobAsset, JobAsset.asset_id == Asset.id)
                .where(JobAsset.job_id == job_id)
                .order_by(JobAsset.position)
            )
            return [asset_record(row) for row in rows]
