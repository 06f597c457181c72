"""The submit step, with its window closed: no crash pays twice where the vendor lets us know.

Between "the provider accepted the job" and "the catalog recorded its request id" a process
may die, or the call may fail after the request went out (a timeout, a dropped connection).
So before every provider call the step records an *intent* in the job's history (attempt, try,
reservation, webhook URL, time; see :mod:`reelforge.engine.intents`), and after it the
acceptance. A re-run of the step (DBOS runs an unfinished step again after a crash) that finds
an accepted record reconciles as before; one that finds an intent with nothing accepted knows
the provider may hold a submission we never heard of, and looks for it:

1. a callback that arrived for the job and attempt with a request id we never recorded (our
   webhook URLs name the job: :func:`reelforge.engine.requests.generation_request`), adopted;
2. where the provider can list its jobs (``finds_submissions``), the first match made since the
   attempt's first intent that no job holds, adopted;
3. nothing found, for a provider that calls back or can be asked: the job may still be running
   and only become visible later (a listing shows ended jobs; a webhook comes at the end), so the
   step answers :class:`~reelforge.engine.outcomes.InDoubt` and the workflow waits durably
   (``recv`` on the webhook topic, then the step again) until ``engine.orphan_wait_s`` after
   the intent; then it submits again under a new try, on the SAME reservation;
4. a provider that offers no way to know (no callback, no listing: Runway, Google, the
   Character Library): the intent's reservation is settled at the estimate, its reason saying
   the job was possibly billed twice, and the step submits again under a new try and a new
   reservation. Such a charge is never released at $0.

No provider we support documents an idempotency key for its submit call, so none is sent.

The intent and the acceptance are *fenced* writes (:mod:`reelforge.engine.lease`): a worker
taken for dead while it was only slow cannot record (nor, after the intent, make) a submission
that the worker now running its job does not see.

A call that fails after it may have reached the provider (:func:`may_have_reached`) is the
same window: the step answers InDoubt (callbacks or listing), or settles the possible charge
(neither), and only then reports the failure for the retry policy. A synchronous provider's
result (:meth:`~reelforge.providers.base.Provider.held_result`) is stored by this step, its
inline bytes as the job's assets, before the acceptance is recorded, so a restart never finds
it "not held here". A submission the job went on without that the provider billed anyway (an
*orphan*, whose callback comes later) is recorded as a charge of its own
(:mod:`reelforge.engine.orphans`). An inline provider's job (the local studio's) lives in the
memory of the process that accepted it, so a re-run of its step submits it again instead of
reconciling a handle that died with that process.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from reelforge.catalog.records import JobRecord
from reelforge.catalog.repositories import NewRunEvent
from reelforge.engine.charges import JobCharges
from reelforge.engine.intents import SubmitFailure, SubmitHistory, SubmitIntent
from reelforge.engine.orphans import Orphans
from reelforge.engine.outcomes import (
    Ended,
    Failure,
    Fetched,
    InDoubt,
    OutputRef,
    ResultMetadata,
    StepError,
    Submission,
    Submitted,
)
from reelforge.engine.outputs import JobOutputs
from reelforge.engine.requests import estimate_usd, generation_request
from reelforge.engine.retrying import patiently
from reelforge.engine.specs import JobSpec
from reelforge.errors import (
    Conflict,
    NotFound,
    ProviderTimeout,
    ProviderUnavailable,
    ReelforgeError,
    WorkerFenced,
)
from reelforge.log import get_logger
from reelforge.providers.base import GenerationRequest, JobHandle, Provider, SubmissionLookup

if TYPE_CHECKING:
    from reelforge.engine.operations import EngineDeps

__all__ = ["SubmitWindow", "may_have_reached"]

log = get_logger(__name__)

_T = TypeVar("_T")


# Transport failures that happen before a request is sent.
def may_have_reached(error: ReelforgeError) -> bool:
    """Whether a failed submit call may still have been accepted: a timeout (ours, or a
    gateway's 408/504), an answer that could not be read, or a transport failure other than
    failing to connect."""
    reason = error.details.get("reason")
    if reason == "not_connected":
        return False
    if isinstance(error, ProviderTimeout) or reason == "malformed_body":
        # No answer in time, or one that could not be read: the job may well exist there.
        return True
    return isinstance(error, ProviderUnavailable) and "http_status" not in error.details


@dataclass(frozen=True, slots=True)
class _Call:
    """One submit step's call: the job, its spec and attempt, its provider and request."""

    job: JobRecord
    spec: JobSpec
    attempt: int
    provider: Provider
    request: GenerationRequest
    inline: bool

    @property
    def job_id(self) -> str:
        return self.job.id

    def handle(self, request_id: str) -> JobHandle:
        """The handle of a submission known by its request id alone (a callback's)."""
        model = self.request.model or self.provider.default_model(self.request.capability)
        return JobHandle(provider=self.provider.id, request_id=request_id, model=model)


class SubmitWindow:
    """The submit step and its recovery."""

    def __init__(
        self, deps: EngineDeps, charges: JobCharges, outputs: JobOutputs, orphans: Orphans
    ) -> None:
        self._deps = deps
        self._catalog = deps.catalog
        self._charges = charges
        self._outputs = outputs
        self._orphans = orphans

    async def submit(
        self, job_id: str, spec: JobSpec, attempt: int, *, inline: bool = False
    ) -> Submitted | InDoubt | Ended | Failure:
        """Submit ``attempt`` of the job, or recover it (see the module docstring). ``inline``:
        the provider's jobs live in this process, so a crash took them along: no intent."""
        job, events = await self._catalog.jobs.with_history(job_id)
        if job.is_terminal:
            # A canceled run cancels its jobs' rows first: nothing is submitted after that.
            return Ended(status=job.status)
        history = SubmitHistory(events)
        accepted = history.accepted(attempt) if job.status == "running" else None
        if accepted is not None and inline and accepted.result is None:
            # The job lived in the memory of the process that accepted it, and an inline step
            # runs again only once that process is gone (a crash, a restart): the job went with
            # it, and its handle now names nothing. Inline providers are free: make it again.
            log.info("job.inline_submitted_again", job_id=job_id, attempt=attempt)
            accepted = None
        if accepted is not None:
            log.info("job.submit_reconciled", job_id=job_id, attempt=attempt)
            return accepted.submission.accepted_at(self._deps.clock(), accepted.result)
        provider = self._deps.providers.get(spec.provider)
        try:
            request = await generation_request(
                spec,
                provider,
                catalog=self._catalog,
                store=self._deps.store,
                webhook_base_url=self._deps.webhook_base_url,
                job_id=job_id,
                attempt=attempt,
            )
        except ReelforgeError as exc:
            log.info("job.submit_refused", job_id=job_id, attempt=attempt, code=exc.code)
            return Failure(error=StepError.of(exc))
        call = _Call(job, spec, attempt, provider, request, inline)
        intent = None if inline else history.intent(attempt)
        if intent is None:
            return await self._send(call, 0)
        return await self._recover(call, history, intent)

    # -- sending -----------------------------------------------------------------------------

    async def _send(
        self, call: _Call, try_number: int, reuse: tuple[str | None] | None = None
    ) -> Submitted | InDoubt | Ended | Failure:
        """Reserve (or ``reuse`` a reservation), record the intent, call the provider."""
        if reuse is not None:
            reservation_id = reuse[0]
        else:
            try:
                reservation_id = await self._charges.reserve(
                    call.job_id, call.spec, call.request, call.attempt, try_number
                )
            except ReelforgeError as exc:
                log.info("job.submit_refused", job_id=call.job_id, code=exc.code)
                return Failure(error=StepError.of(exc))
        intent = SubmitIntent(
            call.attempt, try_number, reservation_id, call.request.webhook_url, self._deps.clock()
        )
        if not call.inline:
            await self._fenced(
                self._catalog.jobs.append_event(
                    call.job_id, "note", intent.payload(), fence=self._deps.lease.fence
                )
            )
        try:
            handle = await call.provider.submit(call.request)
        except ReelforgeError as exc:
            return await self._failed(call, intent, exc)
        return await self._accept(call, intent, handle, await self._held(call, handle))

    async def _held(self, call: _Call, handle: JobHandle) -> Fetched | None:
        """A synchronous result, its bytes made the job's assets (URLs are ingested next)."""
        held = call.provider.held_result(handle)
        if held is None:
            return None
        outputs: list[OutputRef] = []
        try:
            for index, output in enumerate(held.outputs):
                if output.data is None:
                    outputs.append(OutputRef(index=index, url=output.url))
                    continue
                ingest = partial(self._outputs.ingest, call.job_id, call.attempt, index, output)
                outputs.append(OutputRef(index=index, asset_id=await patiently(ingest)))
        except ReelforgeError as exc:
            # This process still holds the result: the fetch step asks for it again.
            log.warning("job.held_result_not_stored", job_id=call.job_id, code=exc.code)
            return None
        return Fetched(
            outputs=tuple(outputs),
            cost_usd=None if held.cost_usd is None else str(held.cost_usd),
            metadata=ResultMetadata.of(held),
        )

    async def _accept(
        self, call: _Call, intent: SubmitIntent, handle: JobHandle, result: Fetched | None
    ) -> Submitted | Ended:
        """Record what the provider accepted (and a synchronous result) in the catalog."""
        estimate = estimate_usd(call.provider, call.request)
        submission = Submission(
            attempt=call.attempt,
            handle=handle,
            reservation_id=intent.reservation_id,
            estimate_usd=None if estimate is None else str(estimate),
        )
        detail: dict[str, Any] = submission.detail() | {"try": intent.try_number}
        if result is not None:
            detail["result"] = result.checkpoint()
        started = {
            "attempt": call.attempt,
            "provider": call.spec.provider,
            "label": call.spec.label,
        }
        key = f"job_started:{call.job_id}:{call.attempt}"
        try:
            await self._fenced(
                self._catalog.jobs.transition(
                    call.job_id,
                    "running",
                    provider_request_id=handle.request_id,
                    payload=detail,
                    run_event=NewRunEvent("job_started", started, key=key),
                    fence=None if call.inline else self._deps.lease.fence,
                )
            )
        except Conflict:
            # Canceled while the provider was accepting it: stop what was just started.
            await _quietly(call.provider.cancel(handle))
            if result is not None:
                await self._outputs.drop(call.job_id)
                await self._charges.possibly_billed(
                    intent.reservation_id, "billed: the job was canceled while it was answered"
                )
            return Ended(status=(await self._catalog.jobs.get(call.job_id)).status)
        if call.job.run_id is not None:
            self._deps.events.wake(call.job.run_id)
        if call.provider.sends_webhooks and call.request.webhook_url is not None:
            await self._orphans.charge_strays(call.job_id, call.attempt, handle.request_id)
        log.info(
            "job.submitted", job_id=call.job_id, provider=call.provider.id, try_=intent.try_number
        )
        return submission.accepted_at(self._deps.clock(), result)

    async def _failed(
        self, call: _Call, intent: SubmitIntent, exc: ReelforgeError
    ) -> InDoubt | Failure:
        error = StepError.of(exc)
        uncertain = not call.inline and may_have_reached(exc)
        log.info("job.submit_failed", job_id=call.job_id, code=exc.code, uncertain=uncertain)
        if not call.inline:
            failure = SubmitFailure(call.attempt, intent.try_number, error, uncertain)
            await self._catalog.jobs.append_event(call.job_id, "note", failure.payload())
        if not uncertain:
            await self._charges.release(call.job_id, "submit failed")
            return Failure(error=error)
        if self._traceable(call, intent):
            return InDoubt(until=intent.at + self._deps.orphan_wait_s, error=error)
        why = f"its call failed after sending ({error.code})"
        await self._charges.possibly_billed(intent.reservation_id, _possibly_twice(call, why))
        return Failure(error=error)

    async def _fenced(self, write: Awaitable[_T]) -> _T:
        """A write that a worker taken for dead must not make: it stops instead
        (:mod:`reelforge.engine.lease`); the worker that took the job over goes on from the
        history written before the take-over."""
        try:
            return await write
        except WorkerFenced:
            self._deps.lease.lost("submit")
            raise

    # -- recovering --------------------------------------------------------------------------

    async def _recover(
        self, call: _Call, history: SubmitHistory, intent: SubmitIntent
    ) -> Submitted | InDoubt | Ended | Failure:
        """The intent's submission may be at the provider: adopt it, wait for it, or pay
        again knowingly."""
        failure = history.failure(call.attempt, intent.try_number)
        if failure is not None and not failure.uncertain:
            await self._charges.release(call.job_id, "submit failed")
            return Failure(error=failure.error)
        handle = await self._find(call, history)
        if handle is not None:
            log.info("job.submit_adopted", job_id=call.job_id, request_id=handle.request_id)
            return await self._accept(call, intent, handle, None)
        error = None if failure is None else failure.error
        if self._traceable(call, intent):
            until = intent.at + self._deps.orphan_wait_s
            if self._deps.clock() < until:
                return InDoubt(until=until, error=error)
            if error is not None:
                # Looked long enough: the retry policy takes over (its retry reserves anew).
                return Failure(error=error)
            log.warning("job.submit_not_found", job_id=call.job_id, try_=intent.try_number)
            return await self._send(call, intent.try_number + 1, (intent.reservation_id,))
        why = "the process stopped before it was recorded"
        if error is not None:
            why = f"its call failed after sending ({error.code})"
        await self._charges.possibly_billed(intent.reservation_id, _possibly_twice(call, why))
        if error is not None:
            return Failure(error=error)
        log.warning("job.submit_unknowable", job_id=call.job_id, try_=intent.try_number)
        # Outputs a lost synchronous answer left behind belong to no recorded submission.
        await self._outputs.drop(call.job_id)
        return await self._send(call, intent.try_number + 1)

    async def _find(self, call: _Call, history: SubmitHistory) -> JobHandle | None:
        """The attempt's lost submission, if a callback named it or the provider lists it."""
        known = history.request_ids()
        for adoption in history.adoptions(call.attempt):
            request_id = adoption.request_id
            if request_id not in known and not await self._held_elsewhere(call, request_id):
                return call.handle(request_id)
        first = history.first_intent(call.attempt)
        if not call.provider.can_find_submission(call.request) or first is None:
            return None
        lookup = SubmissionLookup(call.request, submitted_after=first.at)
        try:
            found = await call.provider.find_submissions(lookup)
        except ReelforgeError as exc:
            log.warning("job.submit_lookup_failed", job_id=call.job_id, code=exc.code)
            return None
        for handle in found:
            request_id = handle.request_id
            if request_id not in known and not await self._held_elsewhere(call, request_id):
                return handle
        return None

    async def _held_elsewhere(self, call: _Call, request_id: str) -> bool:
        try:
            await self._catalog.jobs.get_by_provider_request(call.provider.id, request_id)
        except NotFound:
            return False
        return True

    def _traceable(self, call: _Call, intent: SubmitIntent) -> bool:
        """Whether a lost submission of this provider can still be found."""
        provider = call.provider
        return provider.can_find_submission(call.request) or (
            provider.sends_webhooks and intent.webhook_url is not None
        )


def _possibly_twice(call: _Call, why: str) -> str:
    return (
        f"possibly billed twice: {call.provider.vendor_name} may have accepted attempt "
        f"{call.attempt} of job {call.job_id}, but {why}; it offers no way to look a "
        "submission up, so submitting again may pay for it twice"
    )


async def _quietly(call: Any) -> None:
    try:
        await call
    except ReelforgeError as exc:
        log.warning("job.provider_cancel_failed", code=exc.code)
