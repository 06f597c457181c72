"""Runs: one invocation of a feature, from its input to its response."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select

from reelforge.catalog.models import Job, JobAsset, Run, RunEvent, new_id
from reelforge.catalog.records import (
    RUN_STATUSES,
    TERMINAL_JOB_STATUSES,
    TERMINAL_RUN_STATUSES,
    JobRecord,
    RunOverview,
    RunRecord,
    RunStatus,
)
from reelforge.catalog.repositories._base import (
    Repository,
    check_choice,
    check_name,
    check_page,
    json_document,
)
from reelforge.catalog.repositories.engine import NewRunEvent, add_run_event
from reelforge.catalog.repositories.job_rows import job_record
from reelforge.errors import NotFound

__all__ = ["RunRepository"]


def run_record(row: Run) -> RunRecord:
    return RunRecord(
        id=row.id,
        feature=row.feature,
        status=cast(RunStatus, row.status),
        input=row.input,
        response=row.response,
        project_id=row.project_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        traceparent=row.traceparent,
    )


# A run's overview, built once: rows, not ORM objects (a read that only copies them into
# records has no use for the session's identity map, and building objects is most of its cost).
_RUN_ROW = select(Run.__table__).where(Run.__table__.c.id == bindparam("run_id"))
_JOB_ROWS = (
    select(
        Job.__table__,
        JobAsset.asset_id,
        exists()
        .where(
            RunEvent.run_id == bindparam("run_id"),
            RunEvent.job_id == Job.__table__.c.id,
            RunEvent.kind == "job_pending",
        )
        .label("pending"),
    )
    .outerjoin(JobAsset, JobAsset.job_id == Job.__table__.c.id)
    .where(Job.__table__.c.run_id == bindparam("run_id"))
    .order_by(Job.__table__.c.created_at, Job.__table__.c.id, JobAsset.position)
)


def _missing(run_id: str) -> NotFound:
    return NotFound(f"No run {run_id!r}.", details={"run_id": run_id})


class RunRepository(Repository):
    """Feature runs. The feature's service owns the run's lifecycle; any status may follow any."""

    async def create(
        self,
        *,
        feature: str,
        input: Mapping[str, Any],
        project_id: str | None = None,
        status: RunStatus = "pending",
        run_id: str | None = None,
        traceparent: str | None = None,
    ) -> RunRecord:
        """A new run; ``run_id`` when the caller chose it (``Conflict`` if it exists);
        ``traceparent``: its span's W3C context."""
        check_name(feature, "feature", max_length=64)
        check_choice(status, RUN_STATUSES, "status")
        now = self._now()
        row = Run(
            id=run_id or new_id(),
            feature=feature,
            status=status,
            input=json_document(input, "input"),
            response=None,
            project_id=project_id,
            created_at=now,
            updated_at=now,
            traceparent=traceparent,
        )
        async with self._write() as session:
            session.add(row)
            await session.flush()
            return run_record(row)

    async def get(self, run_id: str) -> RunRecord:
        async with self._read() as session:
            row = await session.get(Run, run_id)
            if row is None:
                raise _missing(run_id)
            return run_record(row)

    async def overview(self, run_id: str) -> RunOverview:
        """The run, its jobs with their outputs, and which jobs are pending: one transaction
        of two statements however many jobs the run has."""
        parameters = {"run_id": run_id}
        async with self._read() as session:
            run_row = (await session.execute(_RUN_ROW, parameters)).first()
            if run_row is None:
                raise _missing(run_id)
            rows = (await session.execute(_JOB_ROWS, parameters)).all()
        outputs: dict[str, tuple[Any, builtins.list[str]]] = {}
        pending_ids: set[str] = set()
        for row in rows:
            _, assets = outputs.setdefault(row.id, (row, []))
            if row.asset_id is not None:
                assets.append(row.asset_id)
            if row.pending:
                pending_ids.add(row.id)
        # A row has the model's attributes, by the same names.
        records: tuple[JobRecord, ...] = tuple(
            job_record(cast(Job, row), assets) for row, assets in outputs.values()
        )
        return RunOverview(
            run=run_record(cast(Run, run_row)),
            jobs=records,
            pending_job_ids=frozenset(pending_ids),
        )

    async def ids_starting_with(self, prefix: str, *, limit: int = 10) -> builtins.list[str]:
        """The ids of the runs whose id starts with ``prefix`` (at most ``limit``, in order)."""
        query = select(Run.id).where(Run.id.startswith(prefix, autoescape=True))
        async with self._read() as session:
            return list(await session.scalars(query.order_by(Run.id).limit(limit)))

    async def open_jobs(self, run_id: str) -> int:
        """How many of the run's jobs are not in a final status yet."""
        query = select(func.count(Job.id)).where(
            Job.run_id == run_id, Job.status.not_in(TERMINAL_JOB_STATUSES)
        )
        async with self._read() as session:
            return int(await session.scalar(query) or 0)

    async def set_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        run_event: NewRunEvent | None = None,
        response: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Set the run's status; ``run_event`` is appended (once per key) and ``response``
        stored in the same transaction."""
        check_choice(status, RUN_STATUSES, "status")
        document = json_document(response, "response") if response is not None else None
        async with self._write() as session:
            row = await session.get(Run, run_id, with_for_update=True)
            if row is None:
                raise _missing(run_id)
            now = self._now()
            row.status = status
            if document is not None:
                row.response = document
            row.updated_at = now
            if run_event is not None:
                await add_run_event(session, run_event, run_id=run_id, job_id=None, at=now)
            await session.flush()
            return run_record(row)

    async def start(self, run_id: str, run_event: NewRunEvent) -> RunRecord:
        """A pending run becomes running (a run in any other status keeps it) and
        ``run_event`` is appended (once per key), in one transaction."""
        async with self._write() as session:
            row = await session.get(Run, run_id, with_for_update=True)
            if row is None:
                raise _missing(run_id)
            now = self._now()
            if row.status == "pending":
                row.status = "running"
                row.updated_at = now
            await add_run_event(session, run_event, run_id=run_id, job_id=None, at=now)
            await session.flush()
            return run_record(row)

    async def set_response(
        self,
        run_id: str,
        response: Mapping[str, Any],
        *,
        status: RunStatus | None = None,
    ) -> RunRecord:
        """Store the run's response (in the spec's shape), and its final status if given."""
        document = json_document(response, "response")
        if status is not None:
            check_choice(status, RUN_STATUSES, "status")
        async with self._write() as session:
            row = await session.get(Run, run_id, with_for_update=True)
            if row is None:
                raise _missing(run_id)
            row.response = document
            if status is not None:
                row.status = status
            row.updated_at = self._now()
            await session.flush()
            return run_record(row)

    async def ended_without_response(
        self, features: builtins.list[str], *, limit: int = 100
    ) -> builtins.list[RunRecord]:
        """Runs of ``features`` in a final status with no stored response, oldest first: runs
        that ended under a release whose features built their responses on read."""
        check_page(limit, 0)
        query = (
            select(Run)
            .where(
                Run.feature.in_(features),
                Run.status.in_(sorted(TERMINAL_RUN_STATUSES)),
                Run.response.is_(None),
            )
            .order_by(Run.created_at, Run.id)
            .limit(limit)
        )
        async with self._read() as session:
            return [run_record(row) for row in await session.scalars(query)]

    async def unstarted(
        self,
        created_before: datetime,
        *,
        after: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> builtins.list[RunRecord]:
        """``pending`` runs created before ``created_before``, oldest first, from just past
        ``after`` (a ``(created_at, id)`` of an earlier page): runs no workflow has begun yet,
        whether waiting on a queue or never started (one indexed read)."""
        check_page(limit, 0)
        query = select(Run).where(Run.status == "pending", Run.created_at < created_before)
        if after is not None:
            at, run_id = after
            query = query.where(
                or_(Run.created_at > at, and_(Run.created_at == at, Run.id > run_id))
            )
        query = query.order_by(Run.created_at, Run.id).limit(limit)
        async with self._read() as session:
            return [run_record(row) for row in await session.scalars(query)]

    async def drop_unstarted(self, run_id: str) -> bool:
        """Delete the run and its events if it is still ``pending`` with no job (a start cut
        off between the run and its jobs); whether it did. A start that records jobs meanwhile
        wins: the run's row is locked, and a job's insert needs it."""
        async with self._write() as session:
            row = await session.get(Run, run_id, with_for_update=True)
            if row is None or row.status != "pending":
                return False
            jobs = await session.scalar(select(func.count(Job.id)).where(Job.run_id == run_id))
            if jobs:
                return False
            await session.execute(delete(RunEvent).where(RunEvent.run_id == run_id))
            await session.delete(row)
            await session.flush()
            return True

    async def list(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        feature: str | None = None,
        status: RunStatus | None = None,
        project_id: str | None = None,
    ) -> builtins.list[RunRecord]:
        """Newest first."""
        check_page(limit, offset)
        query = select(Run).order_by(Run.created_at.desc(), Run.id.desc())
        if feature is not None:
            query = query.where(Run.feature == feature)
        if status is not None:
            check_choice(status, RUN_STATUSES, "status")
            query = query.where(Run.status == status)
        if project_id is not None:
            query = query.where(Run.project_id == project_id)
        async with self._read() as session:
            rows = await session.scalars(query.limit(limit).offset(offset))
            return [run_record(row) for row in rows]
