"""The engine's DBOS workflows: a run fans out provider jobs and fans them back in.

``run`` (workflow id ``run-<run id>``) enqueues one ``job`` workflow per job (id
``job-<job id>``, so enqueueing twice makes one) on its provider's queue, whose global
concurrency and rate limit hold across every worker, at the run's priority. It then waits for
the "done" message of the run's last job (each job, once ended, looks whether any of the run's
jobs is still open, and only the last sends), checking the catalog at the message and every
``engine.fan_in_check_s`` (for jobs ended from outside, canceled one by one), and records the
run's outcome.

``job`` is a provider job, as durable steps:

1. **submit** (the provider's request id is in the catalog the moment it is accepted);
2. **wait**: ``recv`` on the ``webhook`` topic with the poll interval as timeout, and a **poll**
   step when nothing came; whichever first reports a final state wins, the other is ignored
   (a message about another attempt's request is ignored too). Past the cap the job is marked
   pending and keeps waiting;
3. **fetch** the result, unless the winning poll or webhook carried its output URLs already
   (inline bytes are ingested right there, since bytes never leave a step);
4. **ingest** the outputs into the store and the catalog;
5. **record** the job's success (or its failure), and whether its run has any open job left.

A retryable failure (of submit, or of the generation) is tried again per the spec's retry
policy after a durable sleep; fetch and ingest failures are not, since the generation is paid.
Inline providers (the local studio) run steps 1-4 as one step. A canceled workflow stops at its
next step; on the way out it cancels its provider job and removes what it ingested.

The class is a ``DBOSConfiguredInstance``: the engine builds one, with its dependencies, before
DBOS is launched, under a name every process sharing the system database uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dbos import DBOS, DBOSConfiguredInstance, SetEnqueueOptions, SetWorkflowID
from dbos import error as dbos_error

from reelforge.engine.operations import JobOperations
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.engine.states import FINAL_STATES, error_payload
from reelforge.errors import ProviderError, ProviderTimeout, ReelforgeError
from reelforge.log import get_logger

__all__ = [
    "JOB_DONE_TOPIC",
    "RUNS_QUEUE",
    "WEBHOOK_TOPIC",
    "EngineWorkflows",
    "job_workflow_id",
    "provider_queue",
    "run_workflow_id",
]

log = get_logger(__name__)

WEBHOOK_TOPIC = "webhook"
JOB_DONE_TOPIC = "job_done"
RUNS_QUEUE = "reelforge-runs"


def run_workflow_id(run_id: str) -> str:
    return f"run-{run_id}"


def job_workflow_id(job_id: str) -> str:
    return f"job-{job_id}"


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
    ) -> None:
        self._ops = operations
        self._inline = inline_providers
        self._fan_in_check_s = fan_in_check_s
        self._tasks: set[asyncio.Task[Any]] = set()
        super().__init__(name)

    # -- runs --------------------------------------------------------------------------------

    @DBOS.workflow(name="reelforge.run")
    async def run(self, run_id: str, jobs: list[dict[str, Any]]) -> str:
        """``jobs``: ``{"job_id", "spec", "wait", "priority"}`` each (spec and wait as dicts)."""
        with self._tracked():
            await self._begin_run(run_id)
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
            waiting = {str(job["job_id"]) for job in jobs}
            while waiting:
                # A message says the run's last job ended; without one, look anyway now and
                # then (a job canceled from outside sends none).
                await DBOS.recv_async(JOB_DONE_TOPIC, self._fan_in_check_s)
                waiting.difference_update(await self._finished_jobs(run_id))
            return await self._finish_run(run_id)

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

    # -- jobs --------------------------------------------------------------------------------

    @DBOS.workflow(name="reelforge.job")
    async def job(
        self, job_id: str, spec: dict[str, Any], wait: dict[str, Any], run_id: str | None
    ) -> str:
        with self._tracked():
            try:
                ended = await self._drive(job_id, spec, WaitPolicy.model_validate(wait), run_id)
            except dbos_error.DBOSWorkflowCancelledError:
                await self._clean_up_canceled(job_id)
                raise
            if isinstance(ended, str):
                # A record or fail step checkpointed by an older release returned the status
                # alone: the run's settlement is then looked up in a step of its own, as it was.
                ended = {"status": ended}
            status = str(ended["status"])
            # Only the run's last job to end tells the run: one message a run, not one a job.
            # Each job looks after its own final write (the record step, or a step of its own
            # when the job ended otherwise), so the last one sees every other's.
            if run_id is not None:
                settled = ended.get("run_settled")
                if settled is None:
                    settled = await self._run_settled(run_id)
                if settled:
                    await DBOS.send_async(
                        run_workflow_id(run_id),
                        {"job_id": job_id, "status": status},
                        JOB_DONE_TOPIC,
                    )
            return status

    async def _drive(
        self, job_id: str, spec: dict[str, Any], wait: WaitPolicy, run_id: str | None
    ) -> dict[str, Any]:
        """``{"status", "run_settled"}``: the job's final status and, when its final step
        looked, whether its run has no open job left."""
        retry = JobSpec.model_validate(spec).retry
        attempt = 1
        while True:
            outcome = await self._attempt(job_id, spec, wait, attempt)
            if outcome["outcome"] == "ended":
                return {"status": outcome["status"]}
            if outcome["outcome"] == "done":
                return await self._succeed(
                    job_id,
                    outcome["asset_ids"],
                    outcome.get("cost_usd"),
                    outcome["metadata"],
                    outcome.get("submitted"),
                    run_id,
                )
            error = outcome["error"]
            if (
                outcome.get("resubmit", True)
                and error["retryable"]
                and attempt <= retry.max_retries
            ):
                delay = retry.delay_s(attempt, error.get("retry_after"))
                await self._retrying(job_id, attempt, error, delay)
                await DBOS.sleep_async(delay)
                attempt += 1
                continue
            return await self._fail(job_id, error, run_id)

    async def _attempt(
        self, job_id: str, spec: dict[str, Any], wait: WaitPolicy, attempt: int
    ) -> dict[str, Any]:
        if spec["provider"] in self._inline:
            done = await self._run_inline(job_id, spec, attempt)
            if done["outcome"] != "ingested":
                return done
            return done | {"outcome": "done"}
        submitted = await self._submit(job_id, spec, attempt)
        if submitted["outcome"] != "submitted":
            return submitted
        handle = submitted["handle"]
        final = await self._wait(job_id, handle, wait, float(submitted["at"]))
        if final["state"] != "succeeded":
            error = final.get("error") or _canceled_by_provider()
            return {"outcome": "error", "error": error, "resubmit": final["state"] != "timeout"}
        if final.get("outputs") is not None:
            fetched = final
        else:
            fetched = await self._fetch(job_id, handle, attempt)
            if fetched["outcome"] != "fetched":
                return fetched | {"resubmit": False}
        ingested = await self._ingest(job_id, attempt, fetched["outputs"])
        if ingested["outcome"] != "ingested":
            return ingested | {"resubmit": False}
        return {
            "outcome": "done",
            "asset_ids": ingested["asset_ids"],
            "cost_usd": fetched.get("cost_usd"),
            # A webhook does not name the model; the handle does.
            "metadata": (fetched.get("metadata") or {}) | {"model": handle["model"]},
            # What the charge is settled from (the job's history has it too, at a read's cost).
            "submitted": {
                k: submitted[k] for k in ("reservation_id", "estimate_usd") if k in submitted
            },
        }

    async def _wait(
        self, job_id: str, handle: dict[str, Any], wait: WaitPolicy, started_at: float
    ) -> dict[str, Any]:
        interval = wait.poll_interval_s
        pending = False
        while True:
            message = await DBOS.recv_async(WEBHOOK_TOPIC, interval)
            if isinstance(message, dict) and message.get("request_id") == handle["request_id"]:
                state: dict[str, Any] = message
            else:
                state = await self._poll(job_id, handle)
            if state["state"] in FINAL_STATES:
                return state
            waited = float(state["at"]) - started_at
            if not pending and wait.cap_s is not None and waited >= wait.cap_s:
                await self._mark_pending(job_id, round(waited, 3))
                pending = True
                interval = wait.after_cap_interval_s
            if wait.give_up_after_s is not None and waited >= wait.give_up_after_s:
                await self._give_up(job_id)
                timeout = ProviderTimeout(
                    f"The provider did not finish within {wait.give_up_after_s:g} s.",
                    provider=str(handle["provider"]),
                )
                return {"state": "timeout", "error": error_payload(timeout)}

    async def _clean_up_canceled(self, job_id: str) -> None:
        # The workflow is canceled: no more steps, but the provider job and any outputs
        # must still go. The canceller does the same; both are idempotent.
        try:
            await self._ops.cancel_job(job_id, "canceled")
        except ReelforgeError as exc:
            log.warning("job.cancel_cleanup_failed", job_id=job_id, code=exc.code)

    # -- job steps ---------------------------------------------------------------------------

    @DBOS.step(name="reelforge.job.submit")
    async def _submit(self, job_id: str, spec: dict[str, Any], attempt: int) -> dict[str, Any]:
        return await self._ops.submit(job_id, JobSpec.model_validate(spec), attempt)

    @DBOS.step(name="reelforge.job.run_inline", preemptible=True)
    async def _run_inline(self, job_id: str, spec: dict[str, Any], attempt: int) -> dict[str, Any]:
        return await self._ops.run_inline(job_id, JobSpec.model_validate(spec), attempt)

    @DBOS.step(name="reelforge.job.poll")
    async def _poll(self, job_id: str, handle: dict[str, Any]) -> dict[str, Any]:
        return await self._ops.poll(job_id, handle)

    @DBOS.step(name="reelforge.job.mark_pending")
    async def _mark_pending(self, job_id: str, waited_s: float) -> None:
        await self._ops.mark_pending(job_id, waited_s)

    @DBOS.step(name="reelforge.job.give_up")
    async def _give_up(self, job_id: str) -> None:
        await self._ops.stop_at_provider(job_id)

    @DBOS.step(name="reelforge.job.fetch")
    async def _fetch(self, job_id: str, handle: dict[str, Any], attempt: int) -> dict[str, Any]:
        return await self._ops.fetch(job_id, handle, attempt)

    @DBOS.step(name="reelforge.job.ingest")
    async def _ingest(
        self, job_id: str, attempt: int, outputs: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return await self._ops.ingest(job_id, attempt, outputs)

    @DBOS.step(name="reelforge.job.record")
    async def _succeed(
        self,
        job_id: str,
        asset_ids: list[str],
        cost_usd: str | None,
        metadata: dict[str, Any],
        submitted: dict[str, Any] | None,
        run_id: str | None,
    ) -> dict[str, Any]:
        status = await self._ops.succeed(job_id, asset_ids, cost_usd, metadata, submitted)
        return await self._ended(status, run_id)

    @DBOS.step(name="reelforge.job.fail")
    async def _fail(self, job_id: str, error: dict[str, Any], run_id: str | None) -> dict[str, Any]:
        return await self._ended(await self._ops.fail(job_id, error), run_id)

    async def _ended(self, status: str, run_id: str | None) -> dict[str, Any]:
        # In the job's final step, after its final write: one step less per job.
        settled = None if run_id is None else await self._ops.run_settled(run_id)
        return {"status": status, "run_settled": settled}

    @DBOS.step(name="reelforge.job.retrying")
    async def _retrying(
        self, job_id: str, attempt: int, error: dict[str, Any], delay_s: float
    ) -> None:
        await self._ops.retrying(job_id, attempt, error, delay_s)

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


def _canceled_by_provider() -> dict[str, Any]:
    return error_payload(ProviderError("The provider canceled the job."))
