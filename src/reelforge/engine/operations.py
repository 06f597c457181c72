"""What each step of a provider job does, without DBOS: providers, the catalog, the store.

:mod:`reelforge.engine.workflows` decides the order and makes each call here a durable step;
this module does the work and returns small typed results (:mod:`reelforge.engine.outcomes`:
ids, URLs, states), never media bytes, because DBOS stores every step result. Provider errors
come back as values (:class:`~reelforge.engine.outcomes.Failure`), so the workflow applies the
feature's retry policy.

Every method may run twice for the same input (a crash between doing the work and DBOS
recording it), so each is idempotent:

- ``submit`` records its intent before calling the provider and the provider's request id the
  moment the provider accepts (with the attempt number and the handle); run again, it finds
  that record and reconciles, or finds the intent alone and looks the submission up instead of
  paying for a second generation (:mod:`reelforge.engine.submitting`);
- outputs are ingested under asset ids fixed in advance (:mod:`reelforge.engine.outputs`), so
  a second run finds the first run's assets, each written with its link to the job;
- status changes that already happened are no-ops, and progress events carry a key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from reelforge.assets import AssetService
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import RunEventKind
from reelforge.catalog.repositories import NewRunEvent
from reelforge.engine.charges import JobCharges
from reelforge.engine.events import RunEvents
from reelforge.engine.features import FeatureDirectory
from reelforge.engine.finishing import RunFinishing
from reelforge.engine.lease import WorkerLease
from reelforge.engine.orphans import Orphans
from reelforge.engine.outcomes import (
    Ended,
    Failure,
    Fetched,
    InDoubt,
    Ingested,
    OutputRef,
    ProviderReport,
    ResultMetadata,
    StepError,
    Submission,
    Submitted,
)
from reelforge.engine.outputs import JobOutputs
from reelforge.engine.paid_outputs import OutputRetry, PaidOutputs, Stage
from reelforge.engine.queue_repository import QueueRepository
from reelforge.engine.requests import recorded_submission
from reelforge.engine.run_tracing import StepTraces
from reelforge.engine.specs import JobSpec
from reelforge.engine.states import state_payload
from reelforge.engine.submitting import SubmitWindow
from reelforge.errors import Conflict, ProviderError, ReelforgeError
from reelforge.log import get_logger
from reelforge.media.store import MediaStore
from reelforge.providers.base import JobHandle, Running
from reelforge.providers.registry import ProviderRegistry
from reelforge.tracing import Tracing

__all__ = ["EngineDeps", "JobOperations"]

log = get_logger(__name__)

_INLINE_POLL_S = 0.05
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EngineDeps:
    """What the engine's steps are built with (by the composition root)."""

    catalog: Catalog
    assets: AssetService
    store: MediaStore
    providers: ProviderRegistry
    events: RunEvents
    webhook_base_url: str | None
    orphan_wait_s: float = 120.0
    features: FeatureDirectory = field(default_factory=FeatureDirectory)
    budget: BudgetService | None = None
    clock: Callable[[], float] = time.time
    #: How long a paid job's failing fetch or ingest is tried again
    #: (``engine.paid_output_retry_s``).
    paid_output_retry_s: float = 120.0
    #: The fence that writes before and after a paid call go under (set once this process
    #: runs work), and what this process does when its work was taken over.
    lease: WorkerLease = field(default_factory=WorkerLease)
    #: Where the steps' spans go (none recorded by default).
    tracing: Tracing = field(default_factory=Tracing.off)


class JobOperations:
    """The steps of a provider job and of a run, as plain async methods."""

    def __init__(self, deps: EngineDeps) -> None:
        self._deps = deps
        self._catalog = deps.catalog
        self._events = deps.events
        self._charges = JobCharges(deps.budget, deps.catalog)
        self._outputs = JobOutputs(deps.catalog, deps.assets)
        self.orphans = Orphans(deps.catalog, self._charges)
        self.window = SubmitWindow(deps, self._charges, self._outputs, self.orphans)
        self._queues = QueueRepository.on(deps.catalog)
        self._finishing = RunFinishing(deps.catalog, deps.events, deps.features, self._queues)
        #: The steps' trace contexts (their spans and log lines; run_tracing.py).
        self.traces = StepTraces(deps.tracing, deps.catalog)
        self._paid = PaidOutputs(
            deps.catalog, deps.providers, self._outputs, deps.clock, deps.paid_output_retry_s
        )

    # -- runs --------------------------------------------------------------------------------

    async def begin_run(self, run_id: str) -> None:
        await self._catalog.runs.start(run_id, NewRunEvent("started", {}, key="started"))
        self._events.wake(run_id, "started")

    async def finished_jobs(self, run_id: str) -> list[str]:
        """Ids of the run's jobs in a final status (also those canceled from outside)."""
        return [job.id for job in await self._catalog.jobs.list_for_run(run_id) if job.is_terminal]

    async def run_settled(self, run_id: str) -> bool:
        """Whether every job of the run is in a final status."""
        return await self._catalog.runs.open_jobs(run_id) == 0

    async def finish_run(self, run_id: str, *, completion_key: str = "completed") -> str:
        return await self._finishing.finish(run_id, completion_key=completion_key)

    async def retry_round(self, run_id: str) -> int:
        """The run's latest retry round (0: none), whose workflow waits for its jobs."""
        return await self._queues.retry_round(run_id)

    async def paused(self, job_id: str, provider: str, run_id: str | None) -> bool:
        """Whether the job must wait before submitting: its provider's queue or its run is
        paused (:mod:`reelforge.engine.queue_control`)."""
        holding = await self._queues.holding(provider, run_id)
        if holding is not None:
            log.info("job.held", job_id=job_id, provider=provider, run_id=run_id, by=holding)
        return holding is not None

    # -- jobs --------------------------------------------------------------------------------

    async def submit(
        self, job_id: str, spec: JobSpec, attempt: int
    ) -> Submitted | InDoubt | Ended | Failure:
        """Submit the attempt, or recover a submission cut off by a crash
        (:mod:`reelforge.engine.submitting`)."""
        return await self.window.submit(job_id, spec, attempt)

    async def poll(self, job_id: str, handle: JobHandle) -> ProviderReport:
        """The provider's state of the job, appended to its history."""
        provider = self._deps.providers.get(handle.provider)
        try:
            found = await provider.status(handle)
            state = state_payload(found)
        except ReelforgeError as exc:
            # A transient failure to ask is not the job failing: keep waiting.
            failed = "unknown" if exc.retryable else "failed"
            state = {"state": failed, "error": StepError.of(exc).checkpoint()}
        else:
            if isinstance(found, Running) and found.progress is not None:
                await self._progress(job_id, handle, found)
        await self._catalog.jobs.append_event(job_id, "poll", state)
        return ProviderReport.model_validate(state | {"at": self._deps.clock()})

    async def _progress(self, job_id: str, handle: JobHandle, state: Running) -> None:
        """A ``job_progress`` run event, once per whole percent of each submission."""
        assert state.progress is not None
        percent = round(state.progress * 100)
        payload: dict[str, Any] = {"progress": round(state.progress, 4), "percent": percent}
        if state.logs:
            payload["message"] = state.logs[-1][:200]
        job = await self._catalog.jobs.get(job_id)
        key = f"{handle.request_id}:{percent}"
        await self._job_event(job.run_id, job_id, "job_progress", payload, key=key)

    async def fetch(self, job_id: str, handle: JobHandle, attempt: int) -> Fetched | Failure:
        """The finished job's outputs: URLs to ingest, or assets already made from inline bytes
        (:meth:`reelforge.engine.paid_outputs.PaidOutputs.fetch`)."""
        return await self._paid.fetch(job_id, handle, attempt)

    async def ingest(
        self, job_id: str, attempt: int, outputs: Sequence[OutputRef]
    ) -> Ingested | Failure:
        """Every output into the store and the catalog, attached to the job, in order
        (:meth:`reelforge.engine.paid_outputs.PaidOutputs.ingest`)."""
        return await self._paid.ingest(job_id, attempt, outputs)

    async def output_retry(
        self, job_id: str, stage: Stage, error: StepError, previous: OutputRetry | None
    ) -> OutputRetry:
        """Whether a paid job's failed ``stage`` is tried again, and when
        (:meth:`reelforge.engine.paid_outputs.PaidOutputs.retry`)."""
        return await self._paid.retry(job_id, stage, error, previous)

    async def run_inline(
        self, job_id: str, spec: JobSpec, attempt: int
    ) -> Ingested | Ended | Failure:
        """Submit, wait and ingest in one step, for a provider whose jobs live in this process
        (the local studio): after a crash its job is gone anyway, so the step runs again."""
        submitted = await self.window.submit(job_id, spec, attempt, inline=True)
        if isinstance(submitted, InDoubt):  # pragma: no cover - inline submits keep no intent
            return Failure(error=submitted.error or StepError(message="submit in doubt"))
        if not isinstance(submitted, Submitted):
            return submitted
        if submitted.result is not None:
            held = submitted.result
            ingested = await self.ingest(job_id, attempt, held.outputs)
            if isinstance(ingested, Failure):
                return ingested
            return ingested.model_copy(
                update={"cost_usd": held.cost_usd, "metadata": held.metadata}
            )
        handle = submitted.handle
        provider = self._deps.providers.get(spec.provider)
        try:
            state = await provider.status(handle)
            while state_payload(state)["state"] in ("queued", "running"):
                await _tick()
                state = await provider.status(handle)
        except BaseException:
            await _quietly(provider.cancel(handle))
            raise
        payload = state_payload(state)
        await self._catalog.jobs.append_event(job_id, "poll", payload)
        report = ProviderReport.model_validate(payload)
        if report.state != "succeeded":
            return Failure(error=report.error or _canceled_error())
        fetched = await self.fetch(job_id, handle, attempt)
        if isinstance(fetched, Failure):
            return fetched
        ingested = await self.ingest(job_id, attempt, fetched.outputs)
        if isinstance(ingested, Failure):
            return ingested
        return ingested.model_copy(
            update={"cost_usd": fetched.cost_usd, "metadata": fetched.metadata}
        )

    async def succeed(
        self,
        job_id: str,
        asset_ids: Sequence[str],
        cost_usd: str | None,
        metadata: ResultMetadata,
        submitted: Submission | None = None,
    ) -> str:
        """The job's final record, with the provider's metadata; its status if something else
        ended it first (a cancel). ``cost_usd``: the provider's own figure, if it reported one.
        The job's cost is what the budget settled (that figure, else the reservation), or
        without a budget the estimate. ``submitted``: what :meth:`submit` recorded (else it is
        read from the job's history)."""
        cost = await self._charges.settle(
            job_id, Decimal(cost_usd) if cost_usd is not None else None, submitted
        )
        result = metadata.checkpoint()
        detail = {"asset_ids": list(asset_ids), "result": result}
        succeeded = _run_event(job_id, "job_succeeded", {"asset_ids": list(asset_ids)})
        try:
            job = await self._catalog.jobs.transition(
                job_id,
                "succeeded",
                cost=cost,
                payload=detail,
                provider_metadata=result,
                run_event=succeeded,
            )
        except Conflict:
            return (await self._catalog.jobs.get(job_id)).status
        if job.run_id is not None:
            self._events.wake(job.run_id)
        log.info("job.succeeded", job_id=job_id, assets=len(asset_ids))
        return "succeeded"

    async def fail(
        self, job_id: str, error: StepError, *, paid: bool = False, cost_usd: str | None = None
    ) -> str:
        """Fail the job; outputs ingested before the failure go with it. ``paid``: the provider
        reported success (and billed) before the job failed, so its charge is settled (at
        ``cost_usd``, the provider's figure, else the reservation) rather than released."""
        cost = None
        if paid:
            reported = Decimal(cost_usd) if cost_usd is not None else None
            cost = await self._charges.settle(job_id, reported)
        detail = {"error": error.checkpoint()} if error.details else None
        try:
            job = await self._catalog.jobs.transition(
                job_id, "failed", error=error.job_error(), cost=cost, payload=detail
            )
        except Conflict:
            return (await self._catalog.jobs.get(job_id)).status
        await self._charges.release(job_id, "failed")
        await self._outputs.drop(job_id)
        await self._job_event(job.run_id, job_id, "job_failed", {"error": error.checkpoint()})
        log.info("job.failed", job_id=job_id, code=error.code)
        return "failed"

    async def retrying(self, job_id: str, attempt: int, error: StepError, delay_s: float) -> None:
        detail = {"retry": attempt + 1, "delay_s": delay_s, "error": error.checkpoint()}
        job = await self._catalog.jobs.get(job_id)
        if job.status == "running":
            await self._catalog.jobs.transition(job_id, "queued", payload=detail)
        else:
            await self._catalog.jobs.append_event(job_id, "note", detail)
        await self._charges.release(job_id, "retrying")
        await self._outputs.drop(job_id)
        await self._job_event(job.run_id, job_id, "job_retrying", detail, key=str(attempt))

    async def mark_pending(self, job_id: str, waited_s: float) -> None:
        job = await self._catalog.jobs.get(job_id)
        await self._catalog.jobs.append_event(
            job_id, "note", {"pending": True, "waited_s": waited_s}
        )
        await self._job_event(job.run_id, job_id, "job_pending", {"waited_s": waited_s})

    async def cancel_job(self, job_id: str, reason: str) -> str:
        """Stop a job: the provider's cancel call, the catalog, its outputs. Idempotent; a job
        that already succeeded is left as it is."""
        job = await self._catalog.jobs.get(job_id)
        if job.is_terminal and job.status != "canceled":
            return job.status
        if job.status != "canceled":
            await self.stop_at_provider(job_id)
        try:
            await self._catalog.jobs.transition(job_id, "canceled", payload={"reason": reason})
        except Conflict:
            return (await self._catalog.jobs.get(job_id)).status
        await self._charges.release(job_id, "canceled")
        await self._outputs.drop(job_id)
        await self._job_event(job.run_id, job_id, "job_canceled", {"reason": reason})
        log.info("job.canceled", job_id=job_id, reason=reason)
        return "canceled"

    async def stop_at_provider(self, job_id: str) -> None:
        """The provider's cancel call for the job's latest submission (none: nothing to do)."""
        job = await self._catalog.jobs.get(job_id)
        submitted = recorded_submission(await self._catalog.jobs.events(job_id), None)
        if submitted is not None:
            provider = self._deps.providers.get(job.provider)
            await _quietly(provider.cancel(submitted.handle))

    # -- plumbing ----------------------------------------------------------------------------

    async def _job_event(
        self,
        run_id: str | None,
        job_id: str,
        kind: Any,
        payload: Mapping[str, Any],
        *,
        key: str | None = None,
    ) -> None:
        if run_id is not None:
            await self._events.append(
                run_id, kind, payload, job_id=job_id, key=f"{kind}:{job_id}:{key or ''}"
            )


def _run_event(
    job_id: str, kind: RunEventKind, payload: dict[str, Any], key: str = ""
) -> NewRunEvent:
    """A job's event for its run, keyed as :meth:`JobOperations._job_event` keys them."""
    return NewRunEvent(kind, payload, key=f"{kind}:{job_id}:{key}")


def _canceled_error() -> StepError:
    return StepError.of(ProviderError("The provider canceled the job."))


async def _tick() -> None:
    await asyncio.sleep(_INLINE_POLL_S)


async def _quietly(call: Any) -> None:
    try:
        await call
    except ReelforgeError as exc:
        log.warning("job.provider_cancel_failed", code=exc.code)
