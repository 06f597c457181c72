"""Jobs: one provider call each, with an append-only history and its output assets.

A job's status is a small state machine::

    queued ──> running ──> succeeded | failed | canceled
      │  <──────┘ (requeued for a retry)
      └──────────────────> succeeded | failed | canceled

Every change appends a ``status`` event in the same transaction. Asking for the status a job
already has is a no-op (a duplicate webhook, or a poll that lost the race to it); leaving a
terminal status raises Conflict.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
)
from reelforge.catalog.repositories._base import (
    Repository,
    check_choice,
    check_name,
    check_page,
    json_document,
)
from reelforge.catalog.repositories.assets import asset_record
from reelforge.errors import Conflict, InvalidInput, NotFound

__all__ = ["JobRepository"]

_NEXT: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "succeeded", "failed", "canceled"}),
    "running": frozenset({"queued", "succeeded", "failed", "canceled"}),
}
_MICRO_USD = Decimal("0.000001")
_MAX_COST = Decimal(10) ** 6


def _job_record(row: Job, asset_ids: Sequence[str] = ()) -> JobRecord:
    return JobRecord(
        id=row.id,
        run_id=row.run_id,
        provider=row.provider,
        model=row.model,
        capability=row.capability,
        request=row.request,
        prompt=row.prompt,
        template_name=row.template_name,
        template_version=row.template_version,
        provider_request_id=row.provider_request_id,
        status=cast(JobStatus, row.status),
        error_code=row.error_code,
        error_message=row.error_message,
        cost_usd=row.cost_usd,
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        asset_ids=tuple(asset_ids),
    )


def _event_record(row: JobEvent) -> JobEventRecord:
    return JobEventRecord(
        id=row.id,
        job_id=row.job_id,
        at=row.at,
        kind=cast(JobEventKind, row.kind),
        status=cast(JobStatus | None, row.status),
        payload=row.payload,
    )


def _missing(job_id: str) -> NotFound:
    return NotFound(f"No job {job_id!r}.", details={"job_id": job_id})


def _checked_cost(cost: Decimal) -> Decimal:
    if not isinstance(cost, Decimal) or not cost.is_finite() or not 0 <= cost < _MAX_COST:
        raise InvalidInput(
            "cost must be a finite Decimal from 0 to 999999.999999 USD.",
            details={"field": "cost"},
        )
    return cost.quantize(_MICRO_USD)


@dataclass(frozen=True, slots=True)
class _Changes:
    """The fields a transition sets, and how its status event reports them."""

    error: JobError | None
    cost: Decimal | None
    provider_request_id: str | None
    detail: dict[str, Any] | None

    def apply(self, row: Job, now: datetime) -> None:
        if self.error is not None:
            row.error_code, row.error_message = self.error.code, self.error.message
        if self.cost is not None:
            row.cost_usd = self.cost
        if self.provider_request_id is not None:
            row.provider_request_id = self.provider_request_id
        row.updated_at = now

    def event_payload(self, previous: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"from": previous}
        if self.error is not None:
            payload["error"] = {"code": self.error.code, "message": self.error.message}
        if self.cost is not None:
            payload["cost_usd"] = str(self.cost)
        if self.provider_request_id is not None:
            payload["provider_request_id"] = self.provider_request_id
        if self.detail is not None:
            payload["detail"] = self.detail
        return payload


def _enter(row: Job, status: str, now: datetime) -> None:
    row.status = status
    if status == "running":
        row.attempts += 1
        row.started_at = row.started_at or now
    if status in TERMINAL_JOB_STATUSES:
        row.finished_at = now


async def _asset_ids(session: AsyncSession, job_ids: Sequence[str]) -> dict[str, list[str]]:
    links: dict[str, list[str]] = {job_id: [] for job_id in job_ids}
    if job_ids:
        rows = await session.execute(
            select(JobAsset.job_id, JobAsset.asset_id)
            .where(JobAsset.job_id.in_(job_ids))
            .order_by(JobAsset.job_id, JobAsset.position)
        )
        for job_id, asset_id in rows:
            links[job_id].append(asset_id)
    return links


async def _locked_job(session: AsyncSession, job_id: str) -> Job:
    row = await session.get(Job, job_id, with_for_update=True)
    if row is None:
        raise _missing(job_id)
    return row


class JobRepository(Repository):
    """Provider calls, their status history and their outputs."""

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
        check_name(provider, "provider", max_length=64)
        check_name(capability, "capability", max_length=64)
        if not model or len(model) > 255:
            raise InvalidInput("model must be 1-255 characters.", details={"field": "model"})
        if (template_name is None) != (template_version is None):
            raise InvalidInput(
                "template_name and template_version go together.",
                details={"field": "template_version"},
            )
        now = self._now()
        row = Job(
            run_id=run_id,
            provider=provider,
            model=model,
            capability=capability,
            request=json_document(request, "request", allow_secrets=False),
            prompt=prompt,
            template_name=template_name,
            template_version=template_version,
            status="queued",
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        async with self._write() as session:
            if run_id is not None and await session.get(Run, run_id) is None:
                raise NotFound(f"No run {run_id!r}.", details={"run_id": run_id})
            session.add(row)
            await session.flush()
            session.add(JobEvent(job_id=row.id, at=now, kind="status", status="queued", payload={}))
            return _job_record(row)

    async def get(self, job_id: str) -> JobRecord:
        async with self._read() as session:
            row = await session.get(Job, job_id)
            if row is None:
                raise _missing(job_id)
            links = await _asset_ids(session, [job_id])
            return _job_record(row, links[job_id])

    async def get_by_provider_request(self, provider: str, provider_request_id: str) -> JobRecord:
        """The job a webhook or poll result is about; the newest if a provider reused an id."""
        query = (
            select(Job)
            .where(Job.provider == provider, Job.provider_request_id == provider_request_id)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(1)
        )
        async with self._read() as session:
            row = await session.scalar(query)
            if row is None:
                raise NotFound(
                    f"No {provider} job with request id {provider_request_id!r}.",
                    details={"provider": provider, "provider_request_id": provider_request_id},
                )
            links = await _asset_ids(session, [row.id])
            return _job_record(row, links[row.id])

    async def transition(
        self,
        job_id: str,
        status: JobStatus,
        *,
        error: JobError | None = None,
        cost: Decimal | None = None,
        provider_request_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        """Move a job to ``status``, recording the change (and ``payload``) in its history.

        Entering ``running`` counts an attempt; entering a terminal status sets ``finished_at``.
        Within the same non-terminal status, only the given fields are updated.
        """
        check_choice(status, JOB_STATUSES, "status")
        checked_cost = None if cost is None else _checked_cost(cost)
        detail = None if payload is None else json_document(payload, "payload")
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            previous = row.status
            unchanged = (error, checked_cost, provider_request_id) == (None, None, None)
            if previous == status and (status in TERMINAL_JOB_STATUSES or unchanged):
                return _job_record(row, (await _asset_ids(session, [job_id]))[job_id])
            if previous != status and status not in _NEXT.get(previous, frozenset()):
                raise Conflict(
                    f"Job {job_id!r} is {previous}; it cannot become {status}.",
                    details={"job_id": job_id, "status": previous, "requested": status},
                )
            now = self._now()
            changes = _Changes(error, checked_cost, provider_request_id, detail)
            changes.apply(row, now)
            if previous != status:
                _enter(row, status, now)
                session.add(
                    JobEvent(
                        job_id=job_id,
                        at=now,
                        kind="status",
                        status=status,
                        payload=changes.event_payload(previous),
                    )
                )
            await session.flush()
            return _job_record(row, (await _asset_ids(session, [job_id]))[job_id])

    async def append_event(
        self,
        job_id: str,
        kind: JobEventKind,
        payload: Mapping[str, Any],
        *,
        status: JobStatus | None = None,
    ) -> JobEventRecord:
        """Record a webhook, a poll result or a note. Status changes go through ``transition``."""
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
            if await session.get(Job, job_id) is None:
                raise _missing(job_id)
            row = JobEvent(
                job_id=job_id, at=self._now(), kind=kind, status=status, payload=document
            )
            session.add(row)
            await session.flush()
            return _event_record(row)

    async def events(self, job_id: str) -> builtins.list[JobEventRecord]:
        """The job's history, oldest first."""
        async with self._read() as session:
            if await session.get(Job, job_id) is None:
                raise _missing(job_id)
            rows = await session.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
            )
            return [_event_record(row) for row in rows]

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
            links = await _asset_ids(session, [row.id for row in rows])
            return [_job_record(row, links[row.id]) for row in rows]

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
            links = await _asset_ids(session, [row.id for row in rows])
            return [_job_record(row, links[row.id]) for row in rows]

    async def attach_assets(self, job_id: str, asset_ids: Sequence[str]) -> JobRecord:
        """Append outputs to a job. Assets it already has are skipped, so a replay is harmless."""
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            current = (await _asset_ids(session, [job_id]))[job_id]
            wanted = [a for a in dict.fromkeys(asset_ids) if a not in current]
            if wanted:
                found = set(await session.scalars(select(Asset.id).where(Asset.id.in_(wanted))))
                missing = [a for a in wanted if a not in found]
                if missing:
                    raise NotFound(f"No asset {missing[0]!r}.", details={"asset_ids": missing})
                start = await session.scalar(
                    select(func.coalesce(func.max(JobAsset.position) + 1, 0)).where(
                        JobAsset.job_id == job_id
                    )
                )
                session.add_all(
                    JobAsset(job_id=job_id, asset_id=asset_id, position=int(start or 0) + index)
                    for index, asset_id in enumerate(wanted)
                )
                row.updated_at = self._now()
                await session.flush()
            return _job_record(row, current + wanted)

    async def outputs(self, job_id: str) -> builtins.list[AssetRecord]:
        """The job's output assets, in order."""
        async with self._read() as session:
            if await session.get(Job, job_id) is None:
                raise _missing(job_id)
            rows = await session.scalars(
                select(Asset)
                .join(JobAsset, JobAsset.asset_id == Asset.id)
                .where(JobAsset.job_id == job_id)
                .order_by(JobAsset.position)
            )
            return [asset_record(row) for row in rows]
