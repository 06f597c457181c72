"""Queue control, for operators: pause and resume, retry, priority, bulk cancel, the queue view.

- **Pause** a provider's queue or one run: its jobs not yet submitted wait before their paid
  submit step (``reelforge.job.paused``, a durable check between polls with backoff, woken at
  once by a resume); jobs already submitted finish. The pause is a catalog row
  (``queue_pauses``), so it holds across every process and survives restarts. A waiting job
  stays ``queued``: it is neither failed nor retried. A job waiting on a paused *run* has been
  dequeued, so it holds one of its provider queue's concurrency slots while it waits.
- **Retry** an ended run's failed jobs: each gets a new job in the same run, linked to it
  (``job_retries``), submitted anew under a new budget reservation. The failed job keeps its
  row and history (a note names its retry); the run's outcome is made of the retries (a failed
  job a retry replaced no longer counts), and its feature finishes it again. Each retry is a
  round (1, 2, ...) with a workflow of its own (``run-<id>-retry-<round>``).
- **Priority**: the run's jobs still waiting on their provider queue are dequeued at the new
  priority (:mod:`reelforge.engine.priorities`).
- **Cancel queued**: every job of a provider, or of a project's runs, not yet submitted.
- **Queue view**: per provider, jobs in flight (submitted), queued, and held by a pause, and the
  oldest queued job's wait.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reelforge.catalog import Catalog
from reelforge.catalog.records import TERMINAL_RUN_STATUSES
from reelforge.catalog.repositories import NewJob, NewRunEvent
from reelforge.engine.queue_repository import (
    PauseScope,
    QueuePause,
    QueueRepository,
    RetryPair,
)
from reelforge.engine.runtime import Engine
from reelforge.engine.specs import Priority, priority_value
from reelforge.engine.stranded import workflow_jobs
from reelforge.engine.views import JobView, RunView
from reelforge.engine.workflows import RESUME_TOPIC, job_workflow_id
from reelforge.errors import Conflict, InvalidInput, ReelforgeError
from reelforge.log import get_logger
from reelforge.providers.registry import ProviderRegistry

__all__ = ["ProviderQueue", "QueueControl", "QueueView"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderQueue:
    """One provider's queue: ``in_flight`` submitted, ``queued`` not yet, ``held`` of those
    waiting on a pause (all of them while the provider is paused)."""

    provider: str
    paused_at: datetime | None
    in_flight: int
    queued: int
    held: int
    oldest_queued_at: datetime | None
    oldest_wait_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "paused": self.paused_at is not None,
            "paused_at": _iso(self.paused_at),
            "in_flight": self.in_flight,
            "queued": self.queued,
            "held": self.held,
            "oldest_queued_at": _iso(self.oldest_queued_at),
            "oldest_wait_s": self.oldest_wait_s,
        }


@dataclass(frozen=True, slots=True)
class QueueView:
    """Every provider with open jobs or a pause, and the paused runs."""

    providers: tuple[ProviderQueue, ...]
    paused_runs: tuple[QueuePause, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "providers": [queue.to_json() for queue in self.providers],
            "paused_runs": [
                {"run_id": pause.target, "paused_at": pause.paused_at.isoformat()}
                for pause in self.paused_runs
            ],
        }


class QueueControl:
    """The operator's controls over the engine's queues (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        providers: ProviderRegistry,
        *,
        get_run: Callable[[str], Awaitable[RunView]],
        cancel_job: Callable[[str], Awaitable[JobView]],
    ) -> None:
        self._engine = engine
        self._catalog = catalog
        self._providers = providers
        self._queues = QueueRepository.on(catalog)
        self._get_run = get_run
        self._cancel_job = cancel_job

    # -- pause and resume --------------------------------------------------------------------

    async def pause(self, scope: PauseScope, target: str) -> QueuePause:
        """Pause a provider's queue (by provider id) or a run (by run id)."""
        await self._check_target(scope, target)
        pause = await self._queues.pause(scope, target)
        log.info("queue.paused", scope=scope, target=target)
        return pause

    async def resume(self, scope: PauseScope, target: str) -> bool:
        """Lift a pause (whether there was one) and wake the jobs that waited on it."""
        await self._check_target(scope, target)
        lifted = await self._queues.resume(scope, target)
        if scope == "provider":
            waiting = await self._queues.queued_jobs(provider=target)
        else:
            waiting = [
                j for j in await self._catalog.jobs.list_for_run(target) if j.status == "queued"
            ]
        wake = uuid.uuid4().hex
        for job in waiting:
            try:
                await self._engine.send(
                    job_workflow_id(job.id), {"resumed": True}, RESUME_TOPIC, f"{wake}-{job.id}"
                )
            except ReelforgeError as exc:
                # Its workflow is not there (yet): it looks at the pause itself when it runs.
                log.info("queue.resume_unsent", job_id=job.id, code=exc.code)
        log.info("queue.resumed", scope=scope, target=target, woken=len(waiting))
        return lifted

    async def _check_target(self, scope: PauseScope, target: str) -> None:
        if scope == "provider":
            # Refuses an unknown id (INVALID_INPUT), naming the known ones.
            self._providers.provider_class(target)
        elif scope == "run":
            await self._catalog.runs.get(target)
        else:  # pragma: no cover - the faces' types keep to the two
            raise InvalidInput("A pause is of a provider or a run.", details={"scope": scope})

    # -- the queue view ----------------------------------------------------------------------

    async def view(self) -> QueueView:
        pauses = await self._queues.pauses()
        paused_providers = {p.target: p.paused_at for p in pauses if p.scope == "provider"}
        paused_runs = tuple(p for p in pauses if p.scope == "run")
        counts = {
            c.provider: c
            for c in await self._queues.provider_counts([p.target for p in paused_runs])
        }
        now = self._catalog.clock()
        queues = []
        for provider in sorted(set(counts) | set(paused_providers)):
            count = counts.get(provider)
            queued = count.queued if count else 0
            oldest = count.oldest_queued_at if count else None
            paused_at = paused_providers.get(provider)
            held = queued if paused_at is not None else (count.held_by_run if count else 0)
            queues.append(
                ProviderQueue(
                    provider=provider,
                    paused_at=paused_at,
                    in_flight=count.running if count else 0,
                    queued=queued,
                    held=held,
                    oldest_queued_at=oldest,
                    oldest_wait_s=None
                    if oldest is None
                    else round((now - oldest).total_seconds(), 3),
                )
            )
        return QueueView(providers=tuple(queues), paused_runs=paused_runs)

    # -- retry -------------------------------------------------------------------------------

    async def retry(self, run_id: str) -> RunView:
        """Retry the ended run's failed jobs (see the module docstring)."""
        run = await self._catalog.runs.get(run_id)
        if run.status not in TERMINAL_RUN_STATUSES:
            raise Conflict(
                f"Run {run_id} has not ended ({run.status}); retry it once it has.",
                details={"run_id": run_id, "status": run.status},
            )
        retried = await self._queues.retried_job_ids(run_id)
        jobs = await self._catalog.jobs.list_for_run(run_id)
        failed = [job for job in jobs if job.status == "failed" and job.id not in retried]
        if not failed:
            raise Conflict(f"Run {run_id} has no failed job to retry.", details={"run_id": run_id})
        unkept = [job.id for job in failed if job.request.get("keep_prompt") is False]
        if unkept:
            raise Conflict(
                "These jobs did not keep their prompt, so they cannot be sent again; "
                "start a new run instead.",
                details={"run_id": run_id, "job_ids": unkept},
            )
        round_ = await self._queues.retry_round(run_id) + 1
        priority = await self._priority(run_id)
        pairs = [
            RetryPair(
                failed=job,
                retry=NewJob(
                    provider=job.provider,
                    model=job.model,
                    capability=job.capability,
                    request=job.request,
                    prompt=job.prompt,
                    template_name=job.template_name,
                    template_version=job.template_version,
                ),
            )
            for job in failed
        ]
        payload = {"retry_round": round_, "jobs": len(pairs), "priority": priority}
        created = await self._queues.record_retry(
            run_id, round_, pairs, NewRunEvent("queued", payload, key=f"queued:retry-{round_}")
        )
        self._engine.events.wake(run_id, "queued")
        try:
            await self._engine.start_retry_round(run_id, round_, workflow_jobs(created, priority))
        except ReelforgeError:
            await self._catalog.runs.set_status(run_id, run.status)
            for job in created:
                await self._engine.operations.cancel_job(job.id, "retry not started")
            raise
        log.info("run.retried", run_id=run_id, round=round_, jobs=len(created))
        return await self._get_run(run_id)

    async def _priority(self, run_id: str) -> Priority:
        """The priority the run (or its latest retry round) was queued at."""
        events = await self._catalog.run_events.after(run_id)
        queued = [e.payload.get("priority") for e in events if e.kind == "queued"]
        return "batch" if queued and queued[-1] == "batch" else "interactive"

    # -- priority and cancel -----------------------------------------------------------------

    async def set_priority(self, run_id: str, priority: Priority) -> int:
        """Dequeue the run's jobs still waiting on their queue at ``priority``; how many."""
        run = await self._catalog.runs.get(run_id)
        if run.status in TERMINAL_RUN_STATUSES:
            raise Conflict(
                f"Run {run_id} has ended ({run.status}).",
                details={"run_id": run_id, "status": run.status},
            )
        jobs = await self._catalog.jobs.list_for_run(run_id)
        waiting = [job_workflow_id(job.id) for job in jobs if job.status == "queued"]
        moved = await self._engine.reprioritize(waiting, priority_value(priority))
        log.info("run.reprioritized", run_id=run_id, priority=priority, jobs=moved)
        return moved

    async def cancel_queued(
        self, *, provider: str | None = None, project_id: str | None = None
    ) -> list[str]:
        """Cancel every job not yet submitted of ``provider`` or of ``project_id``'s runs (one of
        the two); returns their ids. Submitted jobs go on."""
        if (provider is None) == (project_id is None):
            raise InvalidInput(
                "Name a provider or a project, not both.",
                details={"provider": provider, "project_id": project_id},
            )
        if provider is not None:
            self._providers.provider_class(provider)
        jobs = await self._queues.queued_jobs(provider=provider, project_id=project_id)
        canceled = []
        for job in jobs:
            view = await self._cancel_job(job.id)
            if view.status == "canceled":
                canceled.append(job.id)
        log.info("queue.canceled", provider=provider, project_id=project_id, jobs=len(canceled))
        return canceled


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
