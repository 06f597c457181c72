"""The rows behind :mod:`reelforge.catalog.repositories.jobs`: a new job's, a status change's,
and the records they become."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from reelforge.catalog.models import Asset, Job, JobAsset, JobEvent
from reelforge.catalog.records import (
    TERMINAL_JOB_STATUSES,
    JobError,
    JobEventKind,
    JobEventRecord,
    JobRecord,
    JobStatus,
)
from reelforge.catalog.repositories._base import check_name, json_document
from reelforge.errors import InvalidInput, NotFound

__all__ = [
    "NEXT_STATUSES",
    "JobChanges",
    "NewJob",
    "enter_status",
    "event_record",
    "job_by_provider_request",
    "job_record",
    "link_assets",
    "linked_asset_ids",
    "missing_job",
    "valid_cost",
]

NEXT_STATUSES: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "succeeded", "failed", "canceled"}),
    "running": frozenset({"queued", "succeeded", "failed", "canceled"}),
}
_MICRO_USD = Decimal("0.000001")
_MAX_COST = Decimal(10) ** 6


def job_record(row: Job, asset_ids: Sequence[str] = ()) -> JobRecord:
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
        provider_metadata=row.provider_metadata,
        traceparent=row.traceparent,
    )


def event_record(row: JobEvent) -> JobEventRecord:
    return JobEventRecord(
        id=row.id,
        job_id=row.job_id,
        at=row.at,
        kind=cast(JobEventKind, row.kind),
        status=cast(JobStatus | None, row.status),
        payload=row.payload,
    )


def missing_job(job_id: str) -> NotFound:
    return NotFound(f"No job {job_id!r}.", details={"job_id": job_id})


def valid_cost(cost: Decimal) -> Decimal:
    if not isinstance(cost, Decimal) or not cost.is_finite() or not 0 <= cost < _MAX_COST:
        raise InvalidInput(
            "cost must be a finite Decimal from 0 to 999999.999999 USD.",
            details={"field": "cost"},
        )
    return cost.quantize(_MICRO_USD)


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to create; ``request`` is what was asked, and must never hold a credential."""

    provider: str
    model: str
    capability: str
    request: Mapping[str, Any]
    prompt: str | None = None
    template_name: str | None = None
    template_version: int | None = None

    def row(self, run_id: str | None, now: datetime, traceparent: str | None = None) -> Job:
        check_name(self.provider, "provider", max_length=64)
        check_name(self.capability, "capability", max_length=64)
        if not self.model or len(self.model) > 255:
            raise InvalidInput("model must be 1-255 characters.", details={"field": "model"})
        if (self.template_name is None) != (self.template_version is None):
            raise InvalidInput(
                "template_name and template_version go together.",
                details={"field": "template_version"},
            )
        return Job(
            run_id=run_id,
            provider=self.provider,
            model=self.model,
            capability=self.capability,
            request=json_document(self.request, "request", allow_secrets=False),
            prompt=self.prompt,
            template_name=self.template_name,
            template_version=self.template_version,
            status="queued",
            attempts=0,
            created_at=now,
            updated_at=now,
            traceparent=traceparent,
        )


@dataclass(frozen=True, slots=True)
class JobChanges:
    """The fields a transition sets, and how its status event reports them."""

    error: JobError | None
    cost: Decimal | None
    provider_request_id: str | None
    detail: dict[str, Any] | None
    provider_metadata: dict[str, Any] | None = None

    def apply(self, row: Job, now: datetime) -> None:
        if self.error is not None:
            row.error_code, row.error_message = self.error.code, self.error.message
        if self.cost is not None:
            row.cost_usd = self.cost
        if self.provider_request_id is not None:
            row.provider_request_id = self.provider_request_id
        if self.provider_metadata is not None:
            row.provider_metadata = self.provider_metadata
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


def enter_status(row: Job, status: str, now: datetime) -> None:
    row.status = status
    if status == "running":
        row.attempts += 1
        row.started_at = row.started_at or now
    if status in TERMINAL_JOB_STATUSES:
        row.finished_at = now
        if row.request.get("keep_prompt") is False and row.request.get("prompt"):
            # A prompt the job's feature does not keep is held only while the job is open.
            row.request = {**row.request, "prompt": ""}


async def job_by_provider_request(
    session: AsyncSession, provider: str, provider_request_id: str
) -> JobRecord:
    """The job a webhook or poll result is about; the newest if a provider reused an id."""
    query = (
        select(Job)
        .where(Job.provider == provider, Job.provider_request_id == provider_request_id)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(1)
    )
    row = await session.scalar(query)
    if row is None:
        raise NotFound(
            f"No {provider} job with request id {provider_request_id!r}.",
            details={"provider": provider, "provider_request_id": provider_request_id},
        )
    links = await linked_asset_ids(session, [row.id])
    return job_record(row, links[row.id])


async def linked_asset_ids(session: AsyncSession, job_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each job's output asset ids, in order."""
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


async def link_assets(
    session: AsyncSession,
    job: Job,
    asset_ids: Sequence[str],
    now: datetime,
    *,
    added: Sequence[str] = (),
) -> list[str]:
    """Append outputs to ``job`` (a row locked by this transaction), skipping those it has;
    the job's outputs after. Every asset must exist: ``added`` names those this transaction
    has just written (not looked up again); the others are checked."""
    links = (
        await session.execute(
            select(JobAsset.asset_id, JobAsset.position)
            .where(JobAsset.job_id == job.id)
            .order_by(JobAsset.position)
        )
    ).all()
    current = [asset_id for asset_id, _ in links]
    wanted = [a for a in dict.fromkeys(asset_ids) if a not in current]
    if not wanted:
        return current
    unchecked = [a for a in wanted if a not in added]
    if unchecked:
        await session.flush()
        found = set(await session.scalars(select(Asset.id).where(Asset.id.in_(unchecked))))
        missing = [a for a in unchecked if a not in found]
        if missing:
            raise NotFound(f"No asset {missing[0]!r}.", details={"asset_ids": missing})
    start = links[-1][1] + 1 if links else 0
    session.add_all(
        JobAsset(job_id=job.id, asset_id=asset_id, position=start + index)
        for index, asset_id in enumerate(wanted)
    )
    job.updated_at = now
    await session.flush()
    return current + wanted
