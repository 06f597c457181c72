"""What the emulator knows: its configuration, injected faults, jobs, and the ledger.

The ledger (``GET /_emulator/ledger``) holds every call, every billed generation, every job as it
was received (its model and the reference images its body carried: :class:`ReceivedRequest`,
under ``received``) and every webhook delivery.

Everything here is touched from one event loop only (the emulator's), and every mutation is
synchronous, so no lock is needed and none is ever held across a wait.

The configuration (``POST /_emulator/config``) and fault rules are pydantic models so that a
malformed control request is refused with the field that is wrong. The fault kinds, their
families and how a rule matches a call are in :mod:`reelforge.emulator.faults` (re-exported
here). Every call record says which fault, if any, fired on it; a held accept call also says
whether its client went away during the hold (``client_gone``), so a harness can tell that a
kill landed in the submit window.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reelforge.emulator.faults import ANY, FaultFamily, FaultKind, FaultRule

__all__ = [
    "ANY",
    "BilledGeneration",
    "CallRecord",
    "EmulatorConfig",
    "EmulatorState",
    "FaultFamily",
    "FaultKind",
    "FaultRule",
    "Job",
    "JobPhase",
    "ReceivedRequest",
    "WebhookRecord",
]

_MAX_RECORDS = 100_000
_KEPT_JOBS = 10_000


class EmulatorConfig(BaseModel):
    """Timing and faults. ``POST /_emulator/config`` replaces only the fields it names."""

    model_config = ConfigDict(extra="forbid")

    latency_s: float = Field(default=0.2, ge=0, description="A job's time from submit to done")
    queue_s: float = Field(default=0.05, ge=0, description="The part of latency_s spent queued")
    request_latency_s: float = Field(default=0.0, ge=0, description="Delay before each answer")
    hang_s: float = Field(
        default=30.0, gt=0, description="How long a 'hang' or 'hold_accept' holds a response"
    )
    list_page_size: int | None = Field(
        default=None,
        ge=1,
        description="Caps every listing's page (None: each vendor's own size); for paging tests",
    )
    webhook_attempts: int = Field(default=3, ge=1, le=10)
    faults: list[FaultRule] = Field(default_factory=list)


class JobPhase(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELED = "canceled"


@dataclass(slots=True)
class Job:
    """One generation at one emulated provider. ``output`` and ``error`` are provider-shaped."""

    provider: str
    request_id: str
    model: str
    arguments: dict[str, Any]
    origin: str
    created_at: float
    webhook_url: str | None = None
    route: str = ""
    phase: JobPhase = JobPhase.QUEUED
    started_at: float | None = None
    finished_at: float | None = None
    output: dict[str, Any] | None = None
    error: FaultKind | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def done(self) -> bool:
        return self.phase in (JobPhase.COMPLETED, JobPhase.CANCELED)

    @property
    def inference_time_s(self) -> float:
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return round(self.finished_at - self.started_at, 3)


@dataclass(frozen=True, slots=True)
class CallRecord:
    seq: int
    at: float
    provider: str
    operation: str
    method: str
    path: str
    status: int
    request_id: str | None = None
    fault: str | None = None
    #: hold_accept: whether the client hung up during the hold (None: no hold).
    client_gone: bool | None = None


@dataclass(frozen=True, slots=True)
class BilledGeneration:
    at: float
    provider: str
    request_id: str
    model: str
    units: float
    unit: str
    amount_usd: Decimal


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """A job as it was asked for: its model, and the reference images its body carried, each
    described without its bytes (``sha256``, ``content_type`` and ``bytes`` of an inline image,
    or the ``url`` of one given by address), in the body's order."""

    at: float
    provider: str
    request_id: str
    model: str
    references: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    at: float
    provider: str
    request_id: str
    url: str
    attempt: int
    status: int | None
    fault: str | None = None
    error: str | None = None


@dataclass(slots=True)
class _ActiveFault:
    rule: FaultRule
    remaining: int | None


class EmulatorState:
    """The emulator's memory. ``clock`` is wall time in seconds (injectable)."""

    config: EmulatorConfig
    jobs: dict[str, Job]
    calls: deque[CallRecord]
    billed: deque[BilledGeneration]
    received: deque[ReceivedRequest]
    webhooks: deque[WebhookRecord]

    def __init__(
        self, config: EmulatorConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self._initial = (config or EmulatorConfig()).model_copy(deep=True)
        self.jobs = {}
        self.reset()

    def reset(self) -> None:
        """Forget jobs, ledger and faults; back to the configuration the emulator started with.

        Running jobs are canceled without being billed."""
        for job in self.jobs.values():
            if job.task is not None and not job.task.done():
                job.task.cancel()
        self.config = self._initial.model_copy(deep=True)
        self._faults = [_ActiveFault(rule, rule.count) for rule in self.config.faults]
        self.jobs = {}
        self.calls = deque(maxlen=_MAX_RECORDS)
        self.billed = deque(maxlen=_MAX_RECORDS)
        self.received = deque(maxlen=_MAX_RECORDS)
        self.webhooks = deque(maxlen=_MAX_RECORDS)
        self._seq = 0
        self._in_flight: Counter[str] = Counter()
        self._max_in_flight: Counter[str] = Counter()
        self._holding: Counter[str] = Counter()

    def configure(self, update: dict[str, Any]) -> EmulatorConfig:
        """Apply a partial configuration (validated); ``faults`` replaces the fault list."""
        merged = self.config.model_dump() | update
        self.config = EmulatorConfig.model_validate(merged)
        if "faults" in update:
            self._faults = [_ActiveFault(rule, rule.count) for rule in self.config.faults]
        return self.config

    def take_fault(self, provider: str, operation: str, family: FaultFamily) -> FaultRule | None:
        """The first armed rule for this call, spending one of its shots."""
        for active in self._faults:
            if active.rule.matches(provider, operation, family):
                if active.remaining is not None:
                    active.remaining -= 1
                    if active.remaining <= 0:
                        self._faults.remove(active)
                return active.rule
        return None

    def armed_faults(self) -> list[dict[str, Any]]:
        return [
            active.rule.model_dump(mode="json") | {"remaining": active.remaining}
            for active in self._faults
        ]

    def record_call(
        self,
        provider: str,
        operation: str,
        method: str,
        path: str,
        status: int,
        *,
        request_id: str | None = None,
        fault: str | None = None,
        client_gone: bool | None = None,
    ) -> None:
        self._seq += 1
        self.calls.append(
            CallRecord(
                self._seq,
                self.clock(),
                provider,
                operation,
                method,
                path,
                status,
                request_id,
                fault,
                client_gone,
            )
        )

    def add_job(self, job: Job) -> None:
        self.jobs[job.request_id] = job
        excess = len(self.jobs) - _KEPT_JOBS
        if excess > 0:
            # A long-running emulator forgets its oldest finished jobs (dicts keep insertion order).
            for request_id in [rid for rid, kept in self.jobs.items() if kept.done][:excess]:
                del self.jobs[request_id]

    def job_started(self, job: Job) -> None:
        """Count ``job`` as in flight (it must have been added)."""
        provider = job.provider
        self._in_flight[provider] += 1
        self._max_in_flight[provider] = max(
            self._max_in_flight[provider], self._in_flight[provider]
        )

    def job_ended(self, job: Job) -> None:
        # A job from before a reset ends after the counters were replaced: not ours to count.
        if self.jobs.get(job.request_id) is job:
            self._in_flight[job.provider] -= 1

    def queue_position(self, job: Job) -> int:
        """How many queued jobs of the same provider were submitted before this one."""
        return sum(
            1
            for other in self.jobs.values()
            if other.provider == job.provider
            and other.phase is JobPhase.QUEUED
            and other.created_at < job.created_at
        )

    def hold(self, provider: str, held: bool) -> None:
        """Count an accept call whose answer a hold_accept fault is holding (``held`` False: the
        hold ended), so that a harness can see the submit window open and time a kill."""
        # max: a reset during a hold has already forgotten it.
        self._holding[provider] = max(self._holding[provider] + (1 if held else -1), 0)

    def bill(self, generation: BilledGeneration) -> None:
        self.billed.append(generation)

    def receive(self, request: ReceivedRequest) -> None:
        self.received.append(request)

    def record_webhook(self, record: WebhookRecord) -> None:
        self.webhooks.append(record)

    def ledger(self, provider: str | None = None) -> dict[str, Any]:
        """The JSON of ``GET /_emulator/ledger``, optionally for one provider."""

        def keep(name: str) -> bool:
            return provider is None or name == provider

        calls = [_jsonable(asdict(c)) for c in self.calls if keep(c.provider)]
        billed = [_jsonable(asdict(b)) for b in self.billed if keep(b.provider)]
        webhooks = [_jsonable(asdict(w)) for w in self.webhooks if keep(w.provider)]
        received = [asdict(r) for r in self.received if keep(r.provider)]
        names = {c["provider"] for c in calls} | {b["provider"] for b in billed}
        names |= {name for name in self._max_in_flight if keep(name)}
        names |= {name for name, held in self._holding.items() if held and keep(name)}
        summary = {name: self._summary(name) for name in sorted(names)}
        return {
            "calls": calls,
            "billed": billed,
            "received": received,
            "webhooks": webhooks,
            "providers": summary,
        }

    def _summary(self, provider: str) -> dict[str, Any]:
        operations = Counter(c.operation for c in self.calls if c.provider == provider)
        billed = [b for b in self.billed if b.provider == provider]
        return {
            "calls": dict(sorted(operations.items())),
            "billed": len(billed),
            "billed_usd": str(sum((b.amount_usd for b in billed), Decimal(0))),
            "in_flight": self._in_flight[provider],
            "max_in_flight": self._max_in_flight[provider],
            "holding": self._holding[provider],
        }


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in record.items()}
