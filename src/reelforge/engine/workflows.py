"""The engine's DBOS workflows: a run fans out provider jobs and fans them back in.

``run`` (workflow id ``run-<run id>``) enqueues one ``job`` workflow per job (id
``job-<job id>``, so enqueueing twice makes one) on its provider's queue, whose global
concurrency and rate limit hold across every worker, at the run's priority. It then waits for
the "done" message of the run's last job (each job, once ended, looks whether any of the run's
jobs is still open, and only the last sends), checking the catalog at the message and every
``engine.fan_in_check_s`` (for jobs ended from outside, canceled one by one), and records the
run's outcome.

``job`` is a provider job, as durable steps:

1. **submit** (an intent is recorded before the provider is called, and the provider's
   request id the moment it is accepted; a synchronous provider's result is stored with it,
   and the job goes straight to step 4). When the step finds that an earlier run of it may
   have reached the provider unseen (a crash, a timeout), it looks the submission up; while
   it may still appear, the workflow waits (``recv`` on the ``webhook`` topic, a callback
   naming it ends the wait) and runs **recover_submit** (the same step) again, bounded by
   ``engine.orphan_wait_s`` (:mod:`reelforge.engine.submitting`);
2. **wait**: ``recv`` on the ``webhook`` topic with the poll interval as timeout, and a **poll**
   step when nothing came; whichever first reports a final state wins, the other is ignored
   (a message about another attempt's request is ignored too). Past the cap the job is marked
   pending and keeps waiting;
3. **fetch** the result, unless the winning poll or webhook carried its output URLs already
   (inline bytes are ingested right there, since bytes never leave a step);
4. **ingest** the outputs into the store and the catalog;
5. **record** the job's success (or its failure), and whether its run has any open job left.

A retryable failure (of submit, or of the generation) is tried again per the spec's retry
policy after a durable sleep. The generation is paid once it succeeded, so a failed fetch or
ingest is never submitted again: an **output_retry** step decides whether to run it again after
a durable sleep, within ``engine.paid_output_retry_s`` (:mod:`reelforge.engine.paid_outputs`),
or to fail the job with its charge settled.
Inline providers (the local studio) run steps 1-4 as one step.

A step whose catalog or store fails is made again a few times (:mod:`reelforge.engine.busy`);
one that still fails ends the job ``failed`` with the error (``STORAGE_ERROR``, in its history,
its reservation released, the provider's job cancelled), so its run ends too rather than the
workflow going to DBOS's ``ERROR`` with the job running for good. A run's own step that fails
so is looked at again at the next fan-in check. A canceled workflow stops at its
next step; on the way out it cancels its provider job and removes what it ingested.

The class is a ``DBOSConfiguredInstance``: the engine builds one, with its dependencies, before
DBOS is launched, under a name every process sharing the system database uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from dbos import DBOS, DBOSConfiguredInstance, SetEnqueueOptions, SetWorkflowID
from dbos import error as dbos_error

from reelforge.engine.attempts import Done, Failed, canceled_by_provider
from reelforge.engine.busy import SteadyOperations
from reelforge.engine.hooks.workflows import HookWorkflows
from reelforge.engine.operations import JobOperations
from reelforge.engine.outcomes import (
    Checkpoint,
    Ended,
    Failure,
    Fetched,
    InDoubt,
    Ingested,
    JobEnd,
    OutputRef,
    ProviderReport,
    ResultMetadata,
    StepError,
    fetch_outcome,
    ingest_outcome,
    inline_outcome,
    job_end,
    provider_report,
    submit_outcome,
)
from reelforge.engine.paid_outputs import OutputRetry, Stage, output_retry
from reelforge.engine.run_tracing import TracedSteps
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.errors import ProviderTimeout, ReelforgeError, StorageError, WorkerFenced
from reelforge.log import get_logger
from reelforge.providers.base import JobHandle

__all__ = [
    "JOB_DONE_TOPIC",
    "RESUME_TOPIC",
    "RUNS_QUEUE",
    "WEBHOOK_TOPIC",
    "EngineWorkflows",
    "completion_key",
    "job_workflow_id",
    "provider_queue",
    "round_workflow_id",
    "run_workflow_id",
]

log = get_logger(__name__)

WEBHOOK_TOPIC = "webhook"
JOB_DONE_TOPIC = "job_done"
RUNS_QUEUE = "reelforge-runs"
RESUME_TOPIC = "resume"
# Marks workflows that retry a paid job's failed fetch or ingest (older ones failed at once).
_PAID_RETRY_PATCH = "paid-output-retry"
# Marks workflows whose attempts wait while their queue or run is paused.
_PAUSE_PATCH = "queue-pause"
_PAUSE_FIRST_CHECK_S = 0.5
_PAUSE_MAX_CHECK_S = 30.0


def run_workflow_id(run_id: str) -> str:
    return f"run-{run_id}"


def job_workflow_id(job_id: str) -> str:
    return f"job-{job_id}"


def round_workflow_id(run_id: str, round_: int) -> str:
    """The workflow that waits for the run's jobs: the run's own, or its retry round's."""
    return run_workflow_id(run_id) if round_ == 0 else f"run-{run_id}-retry-{round_}"


def completion_key(round_: int) -> str:
    """The key of the run's ``completed`` event: one per run, and one per retry round."""
    return "completed" if round_ == 0 else f"completed:retry-{round_}"


def provider_queue(provider_id: str) -> str:
    return f"reelforge-provider-{provider_id}"


@DBOS.dbos_class("reelforge.EngineWorkflows")
class EngineWorkflows(DBOSConfiguredInstance):
    """Runs and provider jobs as DBOS workflows over :class:`JobOperations`."""

    def __init__(
        self,
        name: str,
        operations: JobOperations,
        *,
        inline_providers: frozenset[str],
        fan_in_check_s: float,
        hooks: HookWorkflows | None = None,
    ) -> None:
        # Each step's work made again after a storage failure, a few times (busy.py), in its
        # span, its log lines carrying its trace (run_tracing.py).
        self._traces = operations.traces
        self._ops = cast(JobOperations, TracedSteps(SteadyOperations(operations), self._traces))
        self._inline = inline_providers
        self._fan_in_check_s = fan_in_check_s
        self._hooks = hooks
        self._tasks: set[asyncio.Task[Any]] = set()
        super().__init__(name)

    # -- runs --------------------------------------------------------------------------------

    @DBOS.workflow(name="reelforge.run")
    async def run(self, run_id: str, jobs: list[dict[str, Any]]) -> str:
        """``jobs``: ``{"job_id", "spec", "wait", "priority"}`` each (spec and wait as dicts)."""
        with self._tracked():
            async with self._traces.bound_run(run_id):
                await self._begin_run(run_id)
                await self._enqueue_jobs(run_id, jobs)
                await self._fan_in(run_id, jobs)
                status = await self._finish_run(run_id)
                # After the finish (appended, so runs checkpointed by an earlier release replay).
                if self._hooks is not None:
                    await self._announced(self._hooks.run_ended(run_id), run_id)
                return status

    @DBOS.workflow(name="reelforge.run.retry_round")
    async def retry_round(self, run_id: str, round_: int, jobs: list[dict[str, Any]]) -> str:
        """Round ``round_`` of an ended run's retries (:mod:`reelforge.engine.queue_control`):
        its new jobs, enqueued, waited for and the run finished again, as :meth:`run` does."""
        with self._tracked():
            async with self._traces.bound_run(run_id):
                await self._enqueue_jobs(run_id, jobs)
                await self._fan_in(run_id, jobs)
                status = await self._finish_round(run_id, round_)
                if self._hooks is not None:
                    await self._announced(self._hooks.run_ended(run_id, round_), run_id)
                return status

    async def _enqueue_jobs(self, run_id: str, jobs: list[dict[str, Any]]) -> None:
        for job in jobs:
            with (
                SetWorkflowID(job_workflow_id(job["job_id"])),
                SetEnqueueOptions(priority=int(job["priority"])),
            ):
                await DBOS.enqueue_workflow_async(
                    provider_queue(job["spec"]["provider"]),
                    self.job,
                    job["job_id"],
                    job["spec"],
                    job["wait"],
                    run_id,
                )

    async def _fan_in(self, run_id: str, jobs: list[dict[str, Any]]) -> None:
        waiting = {str(job["job_id"]) for job in jobs}
        while waiting:
            # A message says the run's last job ended; without one, look anyway now and
            # then (a job canceled from outside sends none).
            await DBOS.recv_async(JOB_DONE_TOPIC, self._fan_in_check_s)
            try:
                waiting.difference_update(await self._finished_jobs(run_id))
            except StorageError as exc:
                # The catalog failed past the step's own tries: look again next time.
                log.warning("run.fan_in_failed", run_id=run_id, code=exc.code)

    @DBOS.step(name="reelforge.run.begin")
    async def _begin_run(self, run_id: str) -> None:
        await self._ops.begin_run(run_id)

    @DBOS.step(name="reelforge.run.finished_jobs")
    async def _finished_jobs(self, run_id: str) -> list[str]:
        return await self._ops.finished_jobs(run_id)

    @DBOS.step(name="reelforge.run.settled")
    async def _run_settled(self, run_id: str) -> bool:
        return await self._ops.run_settled(run_id)

    @DBOS.step(name="reelforge.run.finish")
    async def _finish_run(self, run_id: str) -> str:
        return await self._ops.finish_run(run_id)

    @DBOS.step(name="reelforge.run.finish_round")
    async def _finish_round(self, run_id: str, round_: int) -> str:
        return await self._ops.finish_run(run_id, completion_key=completion_key(round_))

    # -- jobs --------------------------------------------------------------------------------

    @DBOS.workflow(name="reelforge.job")
    async def job(
        self, job_id: str, spec: dict[str, Any], wait: dict[str, Any], run_id: str | None
    ) -> str:
        with self._tracked():
            async with self._traces.bound_job(job_id):
                return await self._job(job_id, spec, wait, run_id)

    async def _job(
        self, job_id: str, spec: dict[str, Any], wait: dict[str, Any], run_id: str | None
    ) -> str:
        # Validated once here; the steps are handed the typed spec.
        job_spec = JobSpec.model_validate(spec)
        try:
            ended = await self._drive(job_id, job_spec, WaitPolicy.model_validate(wait), run_id)
        except dbos_error.DBOSWorkflowCancelledError:
            await self._clean_up_canceled(job_id)
            raise
        except WorkerFenced:
            raise  # the work is another worker's now: nothing more is written here
        except ReelforgeError as exc:
            ended = await self._broken(job_id, exc, run_id)
        # Only the run's last job to end tells the run: one message a run, not one a job.
        # Each job looks after its own final write (the record step, or a step of its own
        # when the job ended otherwise), so the last one sees every other's. A record or
        # fail step checkpointed by an older release did not look: it is looked up here.
        if run_id is not None:
            settled = ended.run_settled
            if settled is None:
                settled = await self._run_settled(run_id)
            if settled:
                # A run in a retry round waits in that round's workflow.
                await DBOS.send_async(
                    round_workflow_id(run_id, ended.retry_round),
                    {"job_id": job_id, "status": ended.status},
                    JOB_DONE_TOPIC,
                )
        if run_id is not None and ended.status == "failed" and self._hooks is not None:
            await self._announced(self._hooks.job_failed(job_id, run_id), run_id)
        return ended.status

    async def _drive(
        self, job_id: str, spec: JobSpec, wait: WaitPolicy, run_id: str | None
    ) -> JobEnd:
        """The job's final status and, when its final step looked, whether its run has no
        open job left."""
        attempt = 1
        while True:
            await self._hold_while_paused(job_id, spec.provider, run_id)
            outcome = await self._attempt(job_id, spec, wait, attempt)
            if isinstance(outcome, Ended):
                return JobEnd(status=outcome.status)
            if isinstance(outcome, Done):
                return job_end(await self._succeed(job_id, outcome, run_id))
            error = outcome.error
            if outcome.resubmit and error.retryable and attempt <= spec.retry.max_retries:
                delay = spec.retry.delay_s(attempt, error.retry_after)
                await self._retrying(job_id, attempt, error, delay)
                await DBOS.sleep_async(delay)
                attempt += 1
                continue
            ended = await self._fail(job_id, error, run_id, outcome.paid, outcome.cost_usd)
            return job_end(ended)

    async def _hold_while_paused(self, job_id: str, provider: str, run_id: str | None) -> None:
        """Before an attempt's (paid) submit: wait while the provider's queue or the run is
        paused (:mod:`reelforge.engine.queue_control`). A resume wakes the wait; without one
        the pause is looked at again, backing off. A workflow checkpointed before this check
        existed has its submit where the marker would go, and skips it."""
        if not await DBOS.patch_async(_PAUSE_PATCH):
            return
        delay = _PAUSE_FIRST_CHECK_S
        while await self._paused(job_id, provider, run_id):
            await DBOS.recv_async(RESUME_TOPIC, delay)
            delay = min(delay * 2, _PAUSE_MAX_CHECK_S)

    @DBOS.step(name="reelforge.job.paused")
    async def _paused(self, job_id: str, provider: str, run_id: str | None) -> bool:
        return await self._ops.paused(job_id, provider, run_id)

    async def _attempt(
        self, job_id: str, spec: JobSpec, wait: WaitPolicy, attempt: int
    ) -> Done | Ended | Failed:
        if spec.provider in self._inline:
            inline = inline_outcome(await self._run_inline(job_id, spec, attempt))
            if isinstance(inline, Failure):
                return Failed(inline.error)
            if isinstance(inline, Ended):
                return inline
            return Done(
                inline.asset_ids, inline.cost_usd, inline.metadata or ResultMetadata(), None
            )
        submitted = submit_outcome(await self._submit(job_id, spec, attempt))
        while isinstance(submitted, InDoubt):
            # A submission may be at the provider, not found yet: a callback naming it ends
            # this wait early; the step looks again, and submits again once it is time.
            await DBOS.recv_async(WEBHOOK_TOPIC, wait.poll_interval_s)
            submitted = submit_outcome(await self._recover_submit(job_id, spec, attempt))
        if isinstance(submitted, Failure):
            return Failed(submitted.error)
        if isinstance(submitted, Ended):
            return submitted
        handle = submitted.handle
        if submitted.result is not None:
            # A synchronous answer, stored by the submit step.
            known: Fetched | None = submitted.result
            reported_cost = submitted.result.cost_usd
        else:
            final = await self._wait(job_id, handle, wait, submitted.at)
            if final.state != "succeeded":
                return Failed(final.error or canceled_by_provider(), final.state != "timeout")
            known = None
            if final.outputs is not None:
                known = Fetched(
                    outputs=final.outputs, cost_usd=final.cost_usd, metadata=final.metadata
                )
            reported_cost = final.cost_usd
        paid = await self._paid_outputs(job_id, handle, attempt, known, reported_cost)
        if isinstance(paid, Failed):
            return paid
        fetched, ingested = paid
        # A webhook does not name the model; the handle does.
        metadata = (fetched.metadata or ResultMetadata()).model_copy(update={"model": handle.model})
        # What the charge is settled from (the job's history has it too, at a read's cost).
        return Done(ingested.asset_ids, fetched.cost_usd, metadata, submitted)

    async def _paid_outputs(
        self,
        job_id: str,
        handle: JobHandle,
        attempt: int,
        fetched: Fetched | None,
        reported_cost: str | None,
    ) -> tuple[Fetched, Ingested] | Failed:
        """Fetch (unless the outputs are known already: carried by the final report, or a
        synchronous answer stored at submit) and ingest a billed generation's outputs; a failed
        step is run again after a durable sleep while the retry step says so
        (:mod:`reelforge.engine.paid_outputs`), then the job fails with its charge settled."""
        plan: OutputRetry | None = None
        while True:
            outcome: Fetched | Ingested | Failure
            if fetched is None:
                stage: Stage = "fetch"
                outcome = fetch_outcome(await self._fetch(job_id, handle, attempt))
            else:
                stage = "ingest"
                outcome = ingest_outcome(await self._ingest(job_id, attempt, fetched.outputs))
            if isinstance(outcome, Fetched):
                fetched = outcome
                continue
            if isinstance(outcome, Ingested):
                assert fetched is not None
                return fetched, outcome
            # A workflow whose history has the fail step here (an older release's, which
            # failed at once) replays it; every other one opens the retry window.
            if plan is None and not await DBOS.patch_async(_PAID_RETRY_PATCH):
                return Failed(outcome.error, resubmit=False)
            plan = output_retry(await self._output_retry(job_id, stage, outcome.error, plan))
            if plan.error is not None:
                cost = reported_cost if fetched is None else fetched.cost_usd
                return Failed(plan.error, resubmit=False, paid=True, cost_usd=cost)
            await DBOS.sleep_async(plan.delay_s)

    async def _wait(
        self, job_id: str, handle: JobHandle, wait: WaitPolicy, started_at: float
    ) -> ProviderReport:
        interval = wait.poll_interval_s
        pending = False
        while True:
            message = await DBOS.recv_async(WEBHOOK_TOPIC, interval)
            if isinstance(message, dict) and message.get("request_id") == handle.request_id:
                report = provider_report(message)
            else:
                report = provider_report(await self._poll(job_id, handle))
            if report.final:
                return report
            if report.at is None:
                continue
            waited = report.at - started_at
            if not pending and wait.cap_s is not None and waited >= wait.cap_s:
                await self._mark_pending(job_id, round(waited, 3))
                pending = True
                interval = wait.after_cap_interval_s
            if wait.give_up_after_s is not None and waited >= wait.give_up_after_s:
                await self._give_up(job_id)
                timeout = ProviderTimeout(
                    f"The provider did not finish within {wait.give_up_after_s:g} s.",
                    provider=handle.provider,
                )
                return ProviderReport(state="timeout", error=StepError.of(timeout))

    async def _broken(self, job_id: str, exc: ReelforgeError, run_id: str | None) -> JobEnd:
        """A step failed past its tries (the catalog or the store, see the module docstring,
        or any other error of ours a step let through): the provider's job is cancelled and the
        job ends failed with the error, under its own code."""
        log.error("job.step_failed", job_id=job_id, code=exc.code)
        try:
            await self._give_up(job_id)
        except ReelforgeError as cancel_failed:
            log.warning("job.cancel_failed", job_id=job_id, code=cancel_failed.code)
        return job_end(await self._fail(job_id, StepError.of(exc, details=True), run_id))

    async def _clean_up_canceled(self, job_id: str) -> None:
        # The workflow is canceled: no more steps, but the provider job and any outputs
        # must still go. The canceller does the same; both are idempotent.
        try:
            await self._ops.cancel_job(job_id, "canceled")
        except ReelforgeError as exc:
            log.warning("job.cancel_cleanup_failed", job_id=job_id, code=exc.code)

    # -- job steps: each returns what DBOS stores (see reelforge.engine.outcomes) ------------

    @DBOS.step(name="reelforge.job.submit")
    async def _submit(self, job_id: str, spec: JobSpec, attempt: int) -> Checkpoint:
        return (await self._ops.submit(job_id, spec, attempt)).checkpoint()

    @DBOS.step(name="reelforge.job.recover_submit")
    async def _recover_submit(self, job_id: str, spec: JobSpec, attempt: int) -> Checkpoint:
        return (await self._ops.submit(job_id, spec, attempt)).checkpoint()

    @DBOS.step(name="reelforge.job.run_inline", preemptible=True)
    async def _run_inline(self, job_id: str, spec: JobSpec, attempt: int) -> Checkpoint:
        return (await self._ops.run_inline(job_id, spec, attempt)).checkpoint()

    @DBOS.step(name="reelforge.job.poll")
    async def _poll(self, job_id: str, handle: JobHandle) -> Checkpoint:
        return (await self._ops.poll(job_id, handle)).checkpoint()

    @DBOS.step(name="reelforge.job.mark_pending")
    async def _mark_pending(self, job_id: str, waited_s: float) -> None:
        await self._ops.mark_pending(job_id, waited_s)

    @DBOS.step(name="reelforge.job.give_up")
    async def _give_up(self, job_id: str) -> None:
        await self._ops.stop_at_provider(job_id)

    @DBOS.step(name="reelforge.job.fetch")
    async def _fetch(self, job_id: str, handle: JobHandle, attempt: int) -> Checkpoint:
        return (await self._ops.fetch(job_id, handle, attempt)).checkpoint()

    @DBOS.step(name="reelforge.job.ingest")
    async def _ingest(
        self, job_id: str, attempt: int, outputs: tuple[OutputRef, ...]
    ) -> Checkpoint:
        return (await self._ops.ingest(job_id, attempt, outputs)).checkpoint()

    @DBOS.step(name="reelforge.job.output_retry")
    async def _output_retry(
        self, job_id: str, stage: Stage, error: StepError, previous: OutputRetry | None
    ) -> Checkpoint:
        return (await self._ops.output_retry(job_id, stage, error, previous)).checkpoint()

    @DBOS.step(name="reelforge.job.record")
    async def _succeed(self, job_id: str, done: Done, run_id: str | None) -> Checkpoint:
        status = await self._ops.succeed(
            job_id, done.asset_ids, done.cost_usd, done.metadata, done.submitted
        )
        return (await self._ended(status, run_id)).checkpoint()

    @DBOS.step(name="reelforge.job.fail")
    async def _fail(
        self,
        job_id: str,
        error: StepError,
        run_id: str | None,
        paid: bool = False,
        cost_usd: str | None = None,
    ) -> Checkpoint:
        status = await self._ops.fail(job_id, error, paid=paid, cost_usd=cost_usd)
        return (await self._ended(status, run_id)).checkpoint()

    async def _ended(self, status: str, run_id: str | None) -> JobEnd:
        # In the job's final step, after its final write: one step less per job.
        settled = None if run_id is None else await self._ops.run_settled(run_id)
        round_ = await self._ops.retry_round(run_id) if settled and run_id is not None else 0
        return JobEnd(status=status, run_settled=settled, retry_round=round_)

    @DBOS.step(name="reelforge.job.retrying")
    async def _retrying(self, job_id: str, attempt: int, error: StepError, delay_s: float) -> None:
        await self._ops.retrying(job_id, attempt, error, delay_s)

    async def _announced(self, announcing: Awaitable[None], run_id: str) -> None:
        # Webhooks never fail a run or a job: a catalog that fails past the step's tries
        # loses the announcement, and says so.
        try:
            await announcing
        except ReelforgeError as exc:
            log.error("hook.announce_failed", run_id=run_id, code=exc.code)

    # -- process life ------------------------------------------------------------------------

    @contextmanager
    def _tracked(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def abandon(self) -> None:
        """Stop this process's running workflows where they are, as a crash would: they stay
        pending in DBOS and resume elsewhere, or here on the next start."""
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
