"""The engine's tables: run progress events, received webhooks and worker heartbeats.

Run events are read by growing id (``after(run_id, last_id)``), which is all SSE streams and
progress bars need, in one process or across many; a run's writers take turns so that its ids
become visible in order on PostgreSQL too (:func:`~._base.in_stream_order`). An event may
carry a ``key``, unique within its run: appending the same key again returns the first event,
so a step that runs twice (at-least-once, after a crash) does not report twice.

Worker rows are the reaper's memory: a heartbeat per executor, and which reaper took over a dead
executor's work (a compare-and-set on the heartbeat it saw, so two reapers never both do).

They are also the workers' *fence*. A worker taken for dead (a stall longer than
``engine.stale_after_s``) may still be running: once reaped, its row stays reaped (its beats
fail, see :meth:`WorkerRepository.beat`) and every write made under :func:`hold_fence`, which
reads the row with a shared lock in the write's own transaction, is refused. The reaper's claim
updates the same row, so a fenced write lands either wholly before the take-over (and the new
owner sees it) or not at all.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from reelforge.catalog.models import JobEvent, RunEvent, WebhookEvent, Worker
from reelforge.catalog.records import (
    RUN_EVENT_KINDS,
    WEBHOOK_OUTCOMES,
    JobRecord,
    RunEventKind,
    RunEventRecord,
    WebhookEventRecord,
    WebhookOutcome,
    WorkerFence,
    WorkerRecord,
)
from reelforge.catalog.repositories._base import (
    Repository,
    check_choice,
    in_stream_order,
    json_document,
)
from reelforge.catalog.repositories.job_rows import job_by_provider_request
from reelforge.errors import Conflict, WorkerFenced

__all__ = [
    "NewRunEvent",
    "RunEventRepository",
    "WebhookEventRepository",
    "WebhookTarget",
    "WorkerRepository",
    "add_run_event",
]


def _run_event(row: RunEvent) -> RunEventRecord:
    return RunEventRecord(
        id=row.id,
        run_id=row.run_id,
        at=row.at,
        kind=cast(RunEventKind, row.kind),
        job_id=row.job_id,
        payload=row.payload,
    )


def _webhook_event(row: WebhookEvent) -> WebhookEventRecord:
    return WebhookEventRecord(
        id=row.id,
        provider=row.provider,
        received_at=row.received_at,
        request_id=row.request_id,
        event_id=row.event_id,
        job_id=row.job_id,
        outcome=cast(WebhookOutcome, row.outcome),
        body=row.body,
    )


def _worker(row: Worker) -> WorkerRecord:
    return WorkerRecord(
        executor_id=row.executor_id,
        host=row.host,
        pid=row.pid,
        incarnation=row.incarnation,
        role=row.role,
        app_version=row.app_version,
        started_at=row.started_at,
        beat_at=row.beat_at,
        stopped_at=row.stopped_at,
        reaped_at=row.reaped_at,
        reaped_by=row.reaped_by,
    )


# The table, not the mapped class: a Core insert skips the ORM's bulk-insert machinery.
_RUN_EVENTS = cast(Table, RunEvent.__table__)


@dataclass(frozen=True, slots=True)
class NewRunEvent:
    """An event for a run, written along with the job's or the run's change, in its
    transaction."""

    kind: RunEventKind
    payload: Mapping[str, Any]
    key: str


def run_stream(run_id: str) -> str:
    """The name of a run's event stream (see :func:`in_stream_order`)."""
    return f"run_events:{run_id}"


async def add_run_event(
    session: AsyncSession, event: NewRunEvent, *, run_id: str, job_id: str | None, at: datetime
) -> None:
    """Append ``event`` in ``session``'s write transaction, unless its key is already there (a
    replay): the change it reports must not fail for it."""
    check_choice(event.kind, RUN_EVENT_KINDS, "kind")
    dialect = (await session.connection()).dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    values = {
        "run_id": run_id,
        "at": at,
        "kind": event.kind,
        "job_id": job_id,
        "key": event.key,
        "payload": json_document(event.payload, "payload"),
    }
    await in_stream_order(session, run_stream(run_id))
    await session.execute(
        insert(_RUN_EVENTS).values(values).on_conflict_do_nothing(index_elements=["run_id", "key"])
    )


class RunEventRepository(Repository):
    """Progress events of runs, oldest first."""

    async def append(
        self,
        run_id: str,
        kind: RunEventKind,
        payload: Mapping[str, Any],
        *,
        job_id: str | None = None,
        key: str | None = None,
    ) -> RunEventRecord:
        check_choice(kind, RUN_EVENT_KINDS, "kind")
        document = json_document(payload, "payload")
        try:
            async with self._write() as session:
                await in_stream_order(session, run_stream(run_id))
                row = RunEvent(
                    run_id=run_id,
                    at=self._now(),
                    kind=kind,
                    job_id=job_id,
                    key=key,
                    payload=document,
                )
                session.add(row)
                await session.flush()
                return _run_event(row)
        except Conflict:
            if key is None:
                raise
        async with self._read() as session:
            existing = await session.scalar(
                select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.key == key)
            )
            if existing is None:  # pragma: no cover - a conflict means the row exists
                raise Conflict("A run event with this key vanished.")
            return _run_event(existing)

    async def after(
        self, run_id: str, after_id: int = 0, *, limit: int = 500
    ) -> builtins.list[RunEventRecord]:
        """The run's events with an id above ``after_id``, oldest first."""
        async with self._read() as session:
            rows = await session.scalars(
                select(RunEvent)
                .where(RunEvent.run_id == run_id, RunEvent.id > after_id)
                .order_by(RunEvent.id)
                .limit(limit)
            )
            return [_run_event(row) for row in rows]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """The job a callback is about; ``delivered``: this event already reached its workflow."""

    job: JobRecord
    delivered: bool


class WebhookEventRepository(Repository):
    """Verified callbacks as received, with their outcome."""

    async def add(
        self,
        *,
        provider: str,
        outcome: WebhookOutcome,
        body: Mapping[str, Any],
        request_id: str | None = None,
        event_id: str | None = None,
        job_id: str | None = None,
        history: Mapping[str, Any] | None = None,
    ) -> WebhookEventRecord:
        """Record a callback; with ``job_id`` and ``history``, also append ``history`` to the
        job's history as a ``webhook`` entry, in the same transaction."""
        check_choice(outcome, WEBHOOK_OUTCOMES, "outcome")
        document = json_document(body, "body")
        entry = None if history is None else json_document(history, "history")
        now = self._now()
        async with self._write() as session:
            if job_id is not None and entry is not None:
                session.add(JobEvent(job_id=job_id, at=now, kind="webhook", payload=entry))
            row = WebhookEvent(
                provider=provider,
                received_at=now,
                request_id=request_id,
                event_id=event_id,
                job_id=job_id,
                outcome=outcome,
                body=document,
            )
            session.add(row)
            await session.flush()
            return _webhook_event(row)

    async def target(self, provider: str, request_id: str, event_id: str | None) -> WebhookTarget:
        """In one read, the job a callback is about (the newest with that provider request id;
        NotFound if none) and whether this event id was already delivered to it."""
        async with self._read() as session:
            job = await job_by_provider_request(session, provider, request_id)
            delivered = event_id is not None and await _delivered(
                session, provider, event_id, job.id
            )
            return WebhookTarget(job, delivered)

    async def list(
        self, *, provider: str | None = None, limit: int = 100
    ) -> builtins.list[WebhookEventRecord]:
        """Newest first."""
        query = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
        if provider is not None:
            query = query.where(WebhookEvent.provider == provider)
        async with self._read() as session:
            return [_webhook_event(row) for row in await session.scalars(query)]


async def _delivered(session: AsyncSession, provider: str, event_id: str, job_id: str) -> bool:
    found = await session.scalar(
        select(WebhookEvent.id)
        .where(
            WebhookEvent.provider == provider,
            WebhookEvent.event_id == event_id,
            WebhookEvent.job_id == job_id,
            WebhookEvent.outcome == "delivered",
        )
        .limit(1)
    )
    return found is not None


class WorkerRepository(Repository):
    """Heartbeats of the processes that run work, and who took over the dead ones' work."""

    async def get(self, executor_id: str) -> WorkerRecord | None:
        async with self._read() as session:
            row = await session.get(Worker, executor_id)
            return None if row is None else _worker(row)

    async def start(
        self,
        *,
        executor_id: str,
        host: str,
        pid: int,
        incarnation: str,
        role: str,
        app_version: str,
    ) -> WorkerRecord:
        """Claim ``executor_id`` for this process (a restart replaces the previous row)."""
        now = self._now()
        async with self._write() as session:
            row = await session.get(Worker, executor_id, with_for_update=True)
            if row is None:
                row = Worker(executor_id=executor_id)
                session.add(row)
            row.host, row.pid, row.incarnation = host, pid, incarnation
            row.role, row.app_version = role, app_version
            row.started_at = row.beat_at = now
            row.stopped_at = row.reaped_at = None
            row.reaped_by = None
            await session.flush()
            return _worker(row)

    async def beat(self, executor_id: str, incarnation: str) -> bool:
        """Record a heartbeat; False when another process has since claimed the id, or a
        reaper took this one's work over (it is fenced: only a restart brings it back)."""
        async with self._write() as session:
            result = await session.execute(
                update(Worker)
                .where(
                    Worker.executor_id == executor_id,
                    Worker.incarnation == incarnation,
                    Worker.reaped_at.is_(None),
                )
                .values(beat_at=self._now())
            )
            return _rowcount(result) == 1

    async def stop(self, executor_id: str, incarnation: str) -> None:
        async with self._write() as session:
            await session.execute(
                update(Worker)
                .where(Worker.executor_id == executor_id, Worker.incarnation == incarnation)
                .values(stopped_at=self._now())
            )

    async def unattended(
        self, stale_before: datetime, *, exclude: str
    ) -> builtins.list[WorkerRecord]:
        """Executors stopped or silent since ``stale_before`` whose work nobody took over yet."""
        async with self._read() as session:
            rows = await session.scalars(
                select(Worker)
                .where(
                    Worker.executor_id != exclude,
                    or_(Worker.stopped_at.is_not(None), Worker.beat_at < stale_before),
                    or_(Worker.reaped_at.is_(None), Worker.reaped_at < Worker.beat_at),
                )
                .order_by(Worker.beat_at)
            )
            return [_worker(row) for row in rows]

    async def claim(self, executor_id: str, seen_beat_at: datetime, *, reaper: str) -> bool:
        """Take over ``executor_id``'s work, if it has not beaten since ``seen_beat_at`` and
        no other reaper got there first."""
        async with self._write() as session:
            result = await session.execute(
                update(Worker)
                .where(
                    Worker.executor_id == executor_id,
                    Worker.beat_at == seen_beat_at,
                    or_(Worker.reaped_at.is_(None), Worker.reaped_at < Worker.beat_at),
                )
                .values(reaped_at=self._now(), reaped_by=reaper)
            )
            return _rowcount(result) == 1

    async def release(self, executor_id: str, *, reaper: str) -> None:
        """Give a claim back (taking the work over failed), so the next pass tries again.
        The claimed incarnation stays fenced (some of its work may have moved already): only
        a restart under a new incarnation brings the executor back."""
        async with self._write() as session:
            await session.execute(
                update(Worker)
                .where(Worker.executor_id == executor_id, Worker.reaped_by == reaper)
                .values(reaped_at=None, reaped_by=None, incarnation=_FENCED)
            )

    async def list(self) -> builtins.list[WorkerRecord]:
        async with self._read() as session:
            rows = await session.scalars(select(Worker).order_by(Worker.executor_id))
            return [_worker(row) for row in rows]


# No process's incarnation: a worker row given back by its reaper stays fenced.
_FENCED = "fenced"


async def hold_fence(session: AsyncSession, fence: WorkerFence | None) -> None:
    """Raise WorkerFenced unless ``fence``'s incarnation still holds its executor id, unreaped
    and not stopped; the row stays share-locked until ``session``'s transaction ends, so no
    take-over can slip in before the caller's write commits. ``None``: an unfenced write."""
    if fence is None:
        return
    held = await session.scalar(
        select(Worker.executor_id)
        .where(
            Worker.executor_id == fence.executor_id,
            Worker.incarnation == fence.incarnation,
            Worker.reaped_at.is_(None),
            Worker.stopped_at.is_(None),
        )
        .with_for_update(read=True)
    )
    if held is None:
        raise WorkerFenced(
            f"Worker {fence.executor_id!r} was taken for dead and its work handed over; "
            "it writes nothing more for that work.",
            details={"executor_id": fence.executor_id},
        )


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)
