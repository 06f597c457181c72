"""The ``engine`` settings section: where DBOS keeps its state, who runs work, and the limits.

The mode follows ``engine.system_database_url``:

- **embedded** (SQLite): DBOS keeps its system database in a file, ``data_dir/engine.sqlite``
  by default. API and workers run in one process, and only one: DBOS's queue limits are not
  safe across processes on SQLite, so the engine takes an exclusive lock next to the file.
- **scale_out** (PostgreSQL): any number of ``reelforge serve`` and ``reelforge worker``
  processes, on any machines, share the queues through the database. When
  ``system_database_url`` is unset and the catalog is on PostgreSQL, the engine uses the
  catalog's database (DBOS keeps its tables in its own ``dbos`` schema).

Per-provider limits live under ``engine.queues.<provider_id>`` (``concurrency`` is global, over
all workers; ``rate_limit`` starts per ``rate_period_s``); providers without a section get
``engine.default_queue``. Polling intervals are DBOS's (queue dequeue, SQLite notifications) and
ours (run events); 0.1-0.25 s keeps hops short without loading the database.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelforge.engine.versioning import WORKFLOW_COMPAT_VERSION
from reelforge.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "EngineMode",
    "EngineRole",
    "EngineSettings",
    "HookSettings",
    "QueueLimits",
    "default_executor_id",
]

EngineMode = Literal["embedded", "scale_out"]
EngineRole = Literal["api", "worker", "client"]
"""``api``: ``reelforge serve`` (runs work in embedded mode, or when ``engine.api_executes``);
``worker``: ``reelforge worker`` (always runs work); ``client``: reads and cancels, runs nothing
and takes no lock (the CLI's ``jobs`` commands)."""

_EXECUTOR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class QueueLimits(BaseModel):
    """Limits of one provider's queue. ``concurrency`` counts jobs in flight on every worker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: int | None = Field(default=8, ge=1, description="Global jobs in flight")
    worker_concurrency: int | None = Field(default=None, ge=1, description="Per worker process")
    rate_limit: int | None = Field(default=None, ge=1, description="Job starts per period")
    rate_period_s: float = Field(default=1.0, gt=0)


#: Pauses between a webhook's attempts: about a day in all (23 h 43 min), then it fails.
DEFAULT_HOOK_BACKOFF_S = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800)


class HookSettings(BaseModel):
    """``[engine.hooks]``: outgoing webhooks (see docs/webhooks.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_env: str = Field(
        default="REELFORGE_HOOKS_SECRET",
        description="Variable holding the whsec_<base64> secret deliveries are signed with",
    )
    backoff_s: tuple[float, ...] = Field(
        default=DEFAULT_HOOK_BACKOFF_S,
        description="Durable pauses between attempts; one more attempt than pauses",
        max_length=50,
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120.0, description="One attempt's limit")

    @field_validator("backoff_s")
    @classmethod
    def _non_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(pause < 0 for pause in value):
            raise ValueError("pauses are 0 s or more")
        return value


class EngineSettings(BaseModel):
    """``[engine]`` in ``reelforge.toml``; ``REELFORGE_ENGINE__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    system_database_url: str | None = Field(
        default=None,
        description="sqlite:///file (embedded) or postgresql://... (scale-out); see module doc",
    )
    executor_id: str | None = Field(
        default=None,
        description="Stable id of a worker process; default: the host name. Must be unique.",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port on which `reelforge worker` serves its Prometheus metrics (GET "
        "/metrics, no auth: bind it to a private address); unset: not served",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's metrics port listens on"
    )
    application_version: str | None = Field(
        default=None,
        description="Workflow version shared by all processes; default: the workflow code's "
        "compatibility version (reelforge.engine.versioning), not the package version",
    )
    api_executes: bool | None = Field(
        default=None,
        description="Whether `reelforge serve` runs work too; default: only in embedded mode",
    )
    queue_poll_s: float = Field(default=0.1, ge=0.01, le=5.0)
    notification_poll_s: float = Field(
        default=1.0,
        ge=0.01,
        le=5.0,
        description="SQLite only: how often DBOS looks for messages sent by another process "
        "(a message sent by this process wakes its receiver at once); each look is a query "
        "per waiting receiver, so the default is DBOS's own",
    )
    events_poll_s: float = Field(default=0.1, ge=0.01, le=5.0)
    fan_in_check_s: float = Field(default=5.0, ge=0.1, le=300.0)
    paid_output_retry_s: float = Field(
        default=120.0,
        ge=0.0,
        le=86_400.0,
        description="How long a paid job's result fetch or output download is tried again "
        "(durably, with backoff) after transient faults before the job fails with its "
        "charge settled; 0: fail at the first failed step",
    )
    heartbeat_s: float = Field(default=2.0, ge=0.05, le=60.0)
    stale_after_s: float = Field(default=15.0, ge=0.2, le=3600.0)
    takeover_attempts: int = Field(
        default=5,
        ge=1,
        le=50,
        description="How often a reaper tries to take a dead executor's work over (backing "
        "off from one heartbeat) before leaving it to another process",
    )
    start_grace_s: float = Field(
        default=60.0,
        ge=0.1,
        le=3600.0,
        description="How old a run recorded but never started (its process died before "
        "starting its workflow) must be before a worker starts it, or drops it if it has no "
        "jobs: longer than any live start takes. Embedded mode takes older runs at boot",
    )
    inline_providers: list[str] = Field(
        default_factory=lambda: ["local", "diffusers"],
        description="Providers whose jobs live in the worker's memory: submit, wait and fetch "
        "run as one step, so a crash re-runs the (free) generation instead of losing it",
    )
    orphan_wait_s: float = Field(
        default=120.0,
        ge=0.0,
        le=86_400.0,
        description="How long a job whose submit may have reached its provider before a crash "
        "(or a timeout) looks for that submission (a webhook naming it, the vendor's listing) "
        "before submitting again; for providers that call back or can be asked. Longer than "
        "the provider's usual job, since a listing may show a job only once it has ended",
    )
    queues: dict[str, QueueLimits] = Field(default_factory=dict)
    default_queue: QueueLimits = QueueLimits()
    runs_concurrency: int | None = Field(default=None, ge=1, description="Runs driven at once")
    sys_db_pool_size: int = Field(default=20, ge=2, le=200)
    hooks: HookSettings = HookSettings()
    dbos_log_level: Literal["debug", "info", "warning", "error"] = "warning"

    @field_validator("queues", mode="before")
    @classmethod
    def _lowercase_provider_ids(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k).lower(): v for k, v in value.items()}
        return value

    @field_validator("executor_id")
    @classmethod
    def _check_executor_id(cls, value: str | None) -> str | None:
        if value is not None and not _EXECUTOR_ID.match(value):
            raise ValueError("1-128 characters of letters, digits and ._:@-")
        return value

    @model_validator(mode="after")
    def _stale_after_outlasts_heartbeats(self) -> EngineSettings:
        if self.stale_after_s < 3 * self.heartbeat_s:
            raise ValueError("stale_after_s must be at least 3 heartbeats (3 * heartbeat_s)")
        return self

    @property
    def workflow_version(self) -> str:
        """The version stamped on this process's workflows; only processes of the same version
        resume them (see :mod:`reelforge.engine.versioning`)."""
        return self.application_version or WORKFLOW_COMPAT_VERSION

    def limits_for(self, provider_id: str) -> QueueLimits:
        return self.queues.get(provider_id, self.default_queue)

    def resolved_system_database_url(self, data_dir: Path, catalog_url: str) -> str:
        """The URL DBOS is given: SQLite file or PostgreSQL, with DBOS's own driver."""
        raw = self.system_database_url
        if raw is None:
            catalog = _parse(catalog_url)
            if catalog.get_backend_name() == "postgresql":
                raw = catalog.render_as_string(hide_password=False)
            else:
                raw = f"sqlite:///{(data_dir / 'engine.sqlite').resolve()}"
        url = _parse(raw)
        backend = url.get_backend_name()
        if backend == "sqlite":
            if url.database in (None, "", ":memory:"):
                raise ConfigurationError(
                    "engine.system_database_url must name a SQLite file, not memory."
                )
            return url.set(drivername="sqlite").render_as_string(hide_password=False)
        if backend == "postgresql":
            return url.set(drivername="postgresql").render_as_string(hide_password=False)
        raise ConfigurationError(
            f"engine.system_database_url must be sqlite:///file or postgresql://...; "
            f"got a {backend!r} URL.",
            details={"backend": backend},
        )

    def mode_for(self, system_database_url: str) -> EngineMode:
        return "embedded" if system_database_url.startswith("sqlite") else "scale_out"


def default_executor_id(role: EngineRole, executes: bool, pid: int) -> str:
    """The host name for a process that runs work, so a restart on the same machine takes its
    own work back; a per-process id for one that does not (it never owns work, and must never
    recover a worker's work on start-up by sharing its id)."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:100] or "host"
    return host if executes else f"{role}-{host}-{pid}"


def _parse(url: str) -> URL:
    # Imported here: settings import this module, and SQLAlchemy is slow to import.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"Not a database URL: {exc}") from None
