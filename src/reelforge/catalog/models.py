"""The catalog's tables. Only the repositories touch these classes; everyone else gets records.

Ids are uuid4 hex strings, except the append-only job history, which is ordered by an integer.
Every timestamp is stored and returned as timezone-aware UTC, money as ``Numeric(12, 6)``, and
JSON as ``JSONB`` on PostgreSQL and ``JSON`` text on SQLite. Closed vocabularies (kinds,
statuses) are checked by the database as well as by the repositories.

A schema change here needs a new revision file in ``migrations/versions``; a test compares the
migrated schema with these models.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from reelforge.catalog.records import (
    ASSET_KINDS,
    ASSET_SOURCES,
    JOB_EVENT_KINDS,
    JOB_STATUSES,
    RUN_EVENT_KINDS,
    RUN_STATUSES,
    WEBHOOK_OUTCOMES,
)

__all__ = [
    "Asset",
    "Base",
    "Job",
    "JobAsset",
    "JobEvent",
    "PromptTemplate",
    "ProviderConfig",
    "Run",
    "RunEvent",
    "WebhookEvent",
    "Worker",
    "new_id",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that refuses naive values and always returns aware UTC.

    SQLite has no time zone type: values are stored as UTC text and tagged UTC when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("catalog timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JsonDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
Money = Numeric(12, 6)
# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with constraint names that migrations can refer to."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JsonDocument}


class Asset(Base):
    """One stored file (image or video) and what probing found out about it."""

    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ASSET_KINDS), name="kind"),
        CheckConstraint(_one_of("source", ASSET_SOURCES), name="source"),
        CheckConstraint("size_bytes >= 0", name="size_bytes"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(1024), unique=True)
    content_type: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Double)
    codec: Mapped[str | None] = mapped_column(String(64))
    fps: Mapped[float | None] = mapped_column(Double)
    frame_count: Mapped[int | None] = mapped_column(Integer)
    thumbnail_key: Mapped[str | None] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(16))
    source_url: Mapped[str | None] = mapped_column(Text)
    project_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)


class Run(Base):
    """One invocation of a feature: its input, its status and its response in the spec's shape."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
        # The engine's search for runs recorded but never started (engine/stranded.py).
        Index("ix_runs_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    feature: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[dict[str, Any]]
    response: Mapped[dict[str, Any] | None]
    project_id: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    # The W3C traceparent of the run's span: its jobs' spans are its children.
    traceparent: Mapped[str | None] = mapped_column(String(55))


class Job(Base):
    """One provider call. Its status only changes through the repository, which logs each change."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_one_of("status", JOB_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_jobs_provider_request", "provider", "provider_request_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    capability: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]]
    prompt: Mapped[str | None] = mapped_column(Text)
    template_name: Mapped[str | None] = mapped_column(String(200))
    template_version: Mapped[int | None] = mapped_column(Integer)
    provider_request_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # How the provider made the outputs (model, seed, timings, vendor ids), set on success.
    provider_metadata: Mapped[dict[str, Any] | None]
    # The run's traceparent, carried with the job (its span's parent).
    traceparent: Mapped[str | None] = mapped_column(String(55))


class JobEvent(Base):
    """One entry of a job's append-only history (status changes, webhooks, polls, notes)."""

    __tablename__ = "job_events"
    __table_args__ = (CheckConstraint(_one_of("kind", JOB_EVENT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]


class JobAsset(Base):
    """An output of a job, in order. Deleting the asset removes the link, never the job."""

    __tablename__ = "job_assets"
    __table_args__ = (UniqueConstraint("job_id", "position"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[str] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class PromptTemplate(Base):
    """One immutable version of a named prompt template."""

    __tablename__ = "prompt_templates"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class ProviderConfig(Base):
    """A named configuration of a provider. Credentials are named by environment variable only."""

    __tablename__ = "provider_configs"
    __table_args__ = (UniqueConstraint("provider", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(Text)
    credential_env: Mapped[str | None] = mapped_column(String(128))
    options: Mapped[dict[str, Any]]
    enabled: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RunEvent(Base):
    """One progress event of a run (the engine's; SSE and the CLI read them by growing id)."""

    __tablename__ = "run_events"
    __table_args__ = (
        CheckConstraint(_one_of("kind", RUN_EVENT_KINDS), name="kind"),
        UniqueConstraint("run_id", "key"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]


class WebhookEvent(Base):
    """A verified provider callback, kept as received whatever became of it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(_one_of("outcome", WEBHOOK_OUTCOMES), name="outcome"),
        Index("ix_webhook_events_provider_event", "provider", "event_id"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(index=True)
    request_id: Mapped[str | None] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255))
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]]


class Worker(Base):
    """An engine process that runs work: its heartbeat, and whether its work was taken over."""

    __tablename__ = "engine_workers"

    executor_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    incarnation: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    app_version: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None]
    reaped_at: Mapped[datetime | None]
    reaped_by: Mapped[str | None] = mapped_column(String(128))
