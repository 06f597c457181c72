"""What the catalog's repositories return: frozen records, never ORM objects.

The closed vocabularies (asset kinds and sources, run and job statuses, job event kinds) live here
as ``Literal`` types plus their runtime tuples, shared by the tables' checks and the repositories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from reelforge.errors import ReelforgeError

__all__ = [
    "ASSET_KINDS",
    "ASSET_SOURCES",
    "JOB_EVENT_KINDS",
    "JOB_STATUSES",
    "RUN_EVENT_KINDS",
    "RUN_STATUSES",
    "TERMINAL_JOB_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "WEBHOOK_OUTCOMES",
    "AssetKind",
    "AssetRecord",
    "AssetSource",
    "JobError",
    "JobEventKind",
    "JobEventRecord",
    "JobRecord",
    "JobStatus",
    "PromptTemplateRecord",
    "ProviderConfigRecord",
    "RunEventKind",
    "RunEventRecord",
    "RunOverview",
    "RunRecord",
    "RunStatus",
    "WebhookEventRecord",
    "WebhookOutcome",
    "WorkerFence",
    "WorkerRecord",
]

AssetKind = Literal["image", "video"]
AssetSource = Literal["url", "upload", "base64", "provider", "local"]
RunStatus = Literal["pending", "running", "succeeded", "partial", "failed", "canceled"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
JobEventKind = Literal["status", "webhook", "poll", "note"]
RunEventKind = Literal[
    "queued",
    "started",
    "job_started",
    "job_retrying",
    "job_pending",
    "job_succeeded",
    "job_failed",
    "job_canceled",
    "completed",
    "job_progress",
]
WebhookOutcome = Literal["delivered", "duplicate", "late", "unknown", "invalid"]

ASSET_KINDS: tuple[str, ...] = get_args(AssetKind)
ASSET_SOURCES: tuple[str, ...] = get_args(AssetSource)
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
JOB_EVENT_KINDS: tuple[str, ...] = get_args(JobEventKind)
RUN_EVENT_KINDS: tuple[str, ...] = get_args(RunEventKind)
WEBHOOK_OUTCOMES: tuple[str, ...] = get_args(WebhookOutcome)
TERMINAL_JOB_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})
TERMINAL_RUN_STATUSES: frozenset[str] = frozenset({"succeeded", "partial", "failed", "canceled"})


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """One stored file. ``key`` locates the bytes in the media store."""

    id: str
    key: str
    content_type: str
    kind: AssetKind
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_s: float | None
    codec: str | None
    fps: float | None
    frame_count: int | None
    thumbnail_key: str | None
    source: AssetSource
    source_url: str | None
    project_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One invocation of a feature."""

    id: str
    feature: str
    status: RunStatus
    input: dict[str, Any]
    response: dict[str, Any] | None
    project_id: str | None
    created_at: datetime
    updated_at: datetime
    #: The W3C traceparent of the run's span (None: started before tracing was kept).
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class RunOverview:
    """A run, its jobs in the order they were created, and which of them were reported past
    their wait cap (a ``job_pending`` event): what a face shows of a run, read at once."""

    run: RunRecord
    jobs: tuple[JobRecord, ...]
    pending_job_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class JobError:
    """Why a job failed: a stable code and a message safe to show."""

    code: str
    message: str

    @classmethod
    def from_exception(cls, exc: ReelforgeError) -> JobError:
        return cls(code=exc.code, message=exc.message)


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One provider call. ``asset_ids`` are its outputs in order; ``provider_metadata`` is how
    the provider made them (``model``, ``seed``, ``steps``, ``inference_time_ms``, and the
    vendor's own ``extra``), once the job succeeded."""

    id: str
    run_id: str | None
    provider: str
    model: str
    capability: str
    request: dict[str, Any]
    prompt: str | None
    template_name: str | None
    template_version: int | None
    provider_request_id: str | None
    status: JobStatus
    error_code: str | None
    error_message: str | None
    cost_usd: Decimal | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    asset_ids: tuple[str, ...] = ()
    provider_metadata: dict[str, Any] | None = None
    #: Its run's traceparent (the parent of the job's span).
    traceparent: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_JOB_STATUSES


@dataclass(frozen=True, slots=True)
class JobEventRecord:
    """One entry of a job's history; ``status`` is set for status changes."""

    id: int
    job_id: str
    at: datetime
    kind: JobEventKind
    status: JobStatus | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PromptTemplateRecord:
    """One immutable version of a prompt template."""

    id: str
    name: str
    version: int
    body: str
    model: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ProviderConfigRecord:
    """A named provider configuration; ``credential_env`` names a variable, never holds a key."""

    id: str
    provider: str
    name: str
    base_url: str | None
    credential_env: str | None
    options: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RunEventRecord:
    """One progress event of a run; ``id`` grows, so readers resume after the last one seen."""

    id: int
    run_id: str
    at: datetime
    kind: RunEventKind
    job_id: str | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookEventRecord:
    """A verified provider callback as received, and what became of it."""

    id: int
    provider: str
    received_at: datetime
    request_id: str | None
    event_id: str | None
    job_id: str | None
    outcome: WebhookOutcome
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WorkerFence:
    """Who writes: an executor id and the incarnation (process start) that claimed it. A
    fenced write happens only while that incarnation still holds the id, unreaped."""

    executor_id: str
    incarnation: str


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """An engine process that runs work, and its last heartbeat."""

    executor_id: str
    host: str
    pid: int
    incarnation: str
    role: str
    app_version: str
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None
    reaped_at: datetime | None
    reaped_by: str | None
