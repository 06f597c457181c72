"""Runs and jobs as the faces show them: :class:`RunView` and :class:`JobView`, built from the
catalog's records (a job's history only when asked for)."""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reelforge.catalog.records import (
    TERMINAL_RUN_STATUSES,
    JobEventRecord,
    JobRecord,
    RunRecord,
)
from reelforge.tracing import trace_id_of

__all__ = ["JobView", "RunView", "is_pending", "job_counts", "job_view", "run_view"]


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as faces show it; ``history`` only when asked for."""

    id: str
    run_id: str | None
    label: str | None
    provider: str
    model: str
    capability: str
    status: str
    pending: bool
    attempts: int
    provider_request_id: str | None
    error: dict[str, str] | None
    cost_usd: str | None
    asset_ids: tuple[str, ...]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    history: tuple[dict[str, Any], ...] | None = None
    #: The trace the job's spans and log lines belong to (its run's).
    trace_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies every value, and a run's overview
        # shows every job.
        body: dict[str, Any] = {
            "id": self.id,
            "run_id": self.run_id,
            "label": self.label,
            "provider": self.provider,
            "model": self.model,
            "capability": self.capability,
            "status": self.status,
            "pending": self.pending,
            "attempts": self.attempts,
            "provider_request_id": self.provider_request_id,
            "error": dict(self.error) if self.error is not None else None,
            "cost_usd": self.cost_usd,
            "asset_ids": list(self.asset_ids),
            "created_at": self.created_at.isoformat(),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "trace_id": self.trace_id,
        }
        if self.history is not None:
            body["history"] = list(self.history)
        return body


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class RunView:
    """A run and its jobs. ``done``: in a final status; ``pending``: jobs past their cap."""

    id: str
    feature: str
    status: str
    done: bool
    pending: tuple[str, ...]
    counts: dict[str, int]
    jobs: tuple[JobView, ...]
    response: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    trace_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "feature": self.feature,
            "status": self.status,
            "done": self.done,
            "pending": list(self.pending),
            "counts": dict(self.counts),
            "jobs": [job.to_json() for job in self.jobs],
            "response": self.response,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "trace_id": self.trace_id,
        }


def is_pending(job: JobRecord, events: list[JobEventRecord]) -> bool:
    return not job.is_terminal and any(
        e.kind == "note" and e.payload.get("pending") for e in events
    )


def job_counts(jobs: Sequence[JobRecord]) -> dict[str, int]:
    statuses = ("queued", "running", "succeeded", "failed", "canceled")
    return {status: sum(1 for job in jobs if job.status == status) for status in statuses}


def run_view(run: RunRecord, jobs: Sequence[JobRecord], pending: Set[str]) -> RunView:
    views = tuple(job_view(job, job.id in pending and not job.is_terminal) for job in jobs)
    return RunView(
        id=run.id,
        feature=run.feature,
        status=run.status,
        done=run.status in TERMINAL_RUN_STATUSES,
        pending=tuple(view.id for view in views if view.pending),
        counts=job_counts(jobs),
        jobs=views,
        response=run.response,
        created_at=run.created_at,
        updated_at=run.updated_at,
        trace_id=trace_id_of(run.traceparent),
    )


def job_view(
    job: JobRecord, pending: bool, events: Sequence[JobEventRecord] | None = None
) -> JobView:
    error = (
        {"code": job.error_code, "message": job.error_message or ""}
        if job.error_code is not None
        else None
    )
    history = None
    if events is not None:
        history = tuple(
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "kind": e.kind,
                "status": e.status,
                "payload": e.payload,
            }
            for e in events
        )
    return JobView(
        id=job.id,
        run_id=job.run_id,
        label=job.request.get("label"),
        provider=job.provider,
        model=job.model,
        capability=job.capability,
        status=job.status,
        pending=pending,
        attempts=job.attempts,
        provider_request_id=job.provider_request_id,
        error=error,
        cost_usd=str(job.cost_usd) if job.cost_usd is not None else None,
        asset_ids=job.asset_ids,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        history=history,
        trace_id=trace_id_of(job.traceparent),
    )
