"""The engine as features see it: start a run of provider jobs, watch it, cancel it.

A feature builds one :class:`~reelforge.engine.specs.JobSpec` per provider call (its retry and
wait policies included) and calls :meth:`EngineService.start_run`; the run id comes back at
once, and the work goes on in the engine's workers. Then:

- :meth:`EngineService.wait_for_run` waits up to a limit (a REST call's wait) and returns the
  :class:`RunView` either way: ``done`` says whether it finished, ``pending`` names jobs past
  their wait cap (still alive, still finishing);
- :meth:`EngineService.follow` yields progress events as they happen (SSE, progress bars);
- :meth:`EngineService.cancel_run` / :meth:`EngineService.cancel_job` stop work: the provider's
  cancel call, the workflows, the catalog rows, and the outputs of jobs that did not finish.

The feature reads its jobs' outputs (``JobView.asset_ids``, in order, labelled with the spec's
``label``) and builds its response in its own shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from reelforge.catalog import Catalog
from reelforge.catalog.records import (
    TERMINAL_RUN_STATUSES,
    JobRecord,
    JobStatus,
    RunEventRecord,
    RunRecord,
)
from reelforge.catalog.repositories import NewJob, NewRunEvent
from reelforge.engine.faults import FaultPoints
from reelforge.engine.features import RunPlan
from reelforge.engine.queue_control import QueueControl
from reelforge.engine.run_tracing import run_span
from reelforge.engine.runtime import Engine
from reelforge.engine.specs import JobSpec, Priority, WaitPolicy
from reelforge.engine.stranded import workflow_jobs
from reelforge.engine.views import JobView, RunView, is_pending, job_view, run_view
from reelforge.engine.webhooks import WebhookInbox
from reelforge.engine.workflows import (
    completion_key,
    job_workflow_id,
    round_workflow_id,
    run_workflow_id,
)
from reelforge.errors import ConfigurationError, Conflict, InvalidInput, NotFound, ReelforgeError
from reelforge.log import get_logger
from reelforge.providers.registry import ProviderRegistry

__all__ = ["EngineService", "JobView", "RunView"]

log = get_logger(__name__)

_MAX_JOBS = 1000
_RUN_ID = re.compile(r"[0-9a-f]{32}")


class EngineService:
    """Runs of provider jobs on the engine, for every face and feature."""

    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        providers: ProviderRegistry,
        *,
        faults: FaultPoints | None = None,
    ) -> None:
        """``faults``: where a crash test stops this process (:mod:`reelforge.engine.faults`);
        none armed by default."""
        self.engine = engine
        self.webhooks = WebhookInbox(engine, catalog, providers)
        self.queues = QueueControl(
            engine, catalog, providers, get_run=self.get_run, cancel_job=self.cancel_job
        )
        self._catalog = catalog
        self._providers = providers
        self._faults = faults or FaultPoints()

    async def start_run(
        self,
        feature: str,
        jobs: Sequence[JobSpec],
        *,
        wait: WaitPolicy | None = None,
        priority: Priority = "interactive",
        input: dict[str, Any] | None = None,
        project_id: str | None = None,
        run_id: str | None = None,
        trace_id: str | None = None,
    ) -> str:
        """Record the run and its jobs, and start them; returns the run id at once.

        The run's span is a child of the current one (the request's), or, with ``trace_id``
        (a caller's own, e.g. the segments spec's orchestrator context) of another trace, a
        new trace's first span under that id, linked to the current one. Its ``traceparent``
        is recorded on the run and its jobs (:mod:`reelforge.engine.run_tracing`).

        ``run_id``: an id the caller chose (32 hex digits, see
        :func:`~reelforge.engine.features.stable_run_id`). Starting it again, as a feature's
        finish that runs twice does, starts nothing new: the run's jobs are recorded once and
        its workflow, whose id comes from the run id, runs once.

        A crash after the catalog writes and before the workflow's start leaves a run that
        the processes running work start later (:mod:`reelforge.engine.stranded`)."""
        if not self.engine.launched:
            raise ConfigurationError(
                "The job engine is not running in this process: start it with "
                "`reelforge serve` or `reelforge worker`."
            )
        if not 1 <= len(jobs) <= _MAX_JOBS:
            raise InvalidInput(f"A run has 1 to {_MAX_JOBS} jobs; got {len(jobs)}.")
        models = [self._checked_model(spec) for spec in jobs]
        with run_span(self.engine.tracing, feature, trace_id) as traceparent:
            return await self._start_run(
                feature, jobs, models, wait, priority, input, project_id, run_id, traceparent
            )

    async def _start_run(
        self,
        feature: str,
        jobs: Sequence[JobSpec],
        models: list[str],
        wait: WaitPolicy | None,
        priority: Priority,
        input: dict[str, Any] | None,
        project_id: str | None,
        run_id: str | None,
        traceparent: str | None,
    ) -> str:
        self._faults.reached("before_catalog_write", run_id)
        for attempt in (1, 2):
            run = await self._run_to_start(feature, input or {}, project_id, run_id, traceparent)
            if run.status in TERMINAL_RUN_STATUSES:
                return run.id
            self._faults.reached("between_run_and_jobs", run.id)
            queued = {"feature": feature, "priority": priority}
            try:
                created = await self._record_jobs(
                    run.id, jobs, models, wait, queued, run_id, traceparent
                )
                break
            except NotFound:
                # The run was dropped as stranded (jobless past the grace period) meanwhile:
                # record it again.
                if attempt == 2:
                    raise
        self._faults.reached("before_enqueue", run.id)
        try:
            await self.engine.start_run(run.id, workflow_jobs(created, priority))
        except ReelforgeError:
            await self._catalog.runs.set_status(run.id, "failed")
            raise
        self._faults.reached("after_enqueue", run.id)
        log.info("run.queued", run_id=run.id, feature=feature, jobs=len(created), priority=priority)
        return run.id

    async def _record_jobs(
        self,
        run_id: str,
        jobs: Sequence[JobSpec],
        models: list[str],
        wait: WaitPolicy | None,
        queued: dict[str, Any],
        chosen_id: str | None,
        traceparent: str | None,
    ) -> list[JobRecord]:
        """The run's jobs, recorded with its ``queued`` event in one transaction; a run
        started again under its chosen id keeps the jobs it recorded the first time."""
        known = await self._catalog.jobs.list_for_run(run_id) if chosen_id is not None else []
        if known:
            # Jobs recorded by an older release came without their event: append it (once).
            await self.engine.events.append(
                run_id, "queued", {**queued, "jobs": len(known)}, key="queued"
            )
            return known
        default_wait = wait or WaitPolicy()
        # The job carries the wait policy it runs with (its own, else the run's).
        specs = [spec.model_copy(update={"wait": spec.wait or default_wait}) for spec in jobs]
        created = await self._catalog.jobs.create_many(
            [
                NewJob(
                    provider=spec.provider,
                    model=model,
                    capability=spec.capability.value,
                    request=spec.model_dump(mode="json"),
                    prompt=spec.prompt if spec.keep_prompt else None,
                    template_name=spec.template_name,
                    template_version=spec.template_version,
                )
                for spec, model in zip(specs, models, strict=True)
            ],
            run_id=run_id,
            run_event=NewRunEvent("queued", {**queued, "jobs": len(specs)}, key="queued"),
            traceparent=traceparent,
        )
        self.engine.events.wake(run_id, "queued")
        return created

    async def _run_to_start(
        self,
        feature: str,
        input: dict[str, Any],
        project_id: str | None,
        run_id: str | None,
        traceparent: str | None,
    ) -> RunRecord:
        if run_id is None:
            return await self._catalog.runs.create(
                feature=feature, input=input, project_id=project_id, traceparent=traceparent
            )
        if not _RUN_ID.fullmatch(run_id):
            raise InvalidInput("A chosen run id is 32 hex digits.", details={"run_id": run_id})
        try:
            run = await self._catalog.runs.get(run_id)
        except NotFound:
            try:
                return await self._catalog.runs.create(
                    feature=feature,
                    input=input,
                    project_id=project_id,
                    run_id=run_id,
                    traceparent=traceparent,
                )
            except Conflict:
                run = await self._catalog.runs.get(run_id)
        if run.feature != feature:
            raise Conflict(
                f"Run {run_id} belongs to feature {run.feature!r}.",
                details={"run_id": run_id, "feature": run.feature},
            )
        return run

    @property
    def started(self) -> bool:
        """Whether this process's engine is started (in any role)."""
        return self.engine.started

    async def start(self, feature: str, plan: RunPlan) -> str:
        """Start a feature's planned run; returns the run id at once."""
        return await self.start_run(
            feature,
            plan.jobs,
            wait=plan.wait,
            priority=plan.priority,
            input=dict(plan.input),
            project_id=plan.project_id,
            run_id=plan.run_id,
            trace_id=plan.trace_id,
        )

    async def finish_again(self, run_id: str) -> RunView:
        """Run a done run's finish step once more: for runs that ended under a release whose
        features built their responses on read, and have none stored."""
        await self.engine.operations.finish_run(run_id)
        return await self.get_run(run_id)

    async def finish_ended(self, features: Sequence[str], *, limit: int = 100) -> list[str]:
        """Run the finish step of ended runs of ``features`` that have no stored response, oldest
        first, up to ``limit``: what an upgrade from a release whose features built their
        responses and records on read leaves behind. Returns the run ids finished."""
        runs = await self._catalog.runs.ended_without_response(list(features), limit=limit)
        for run in runs:
            await self.engine.operations.finish_run(run.id)
        log.info("runs.finished_again", runs=len(runs))
        return [run.id for run in runs]

    async def get_run(self, run_id: str) -> RunView:
        overview = await self._catalog.runs.overview(run_id)
        return run_view(overview.run, overview.jobs, overview.pending_job_ids)

    async def get_job(self, job_id: str, *, history: bool = True) -> JobView:
        job = await self._catalog.jobs.get(job_id)
        events = await self._catalog.jobs.events(job_id)
        return job_view(job, is_pending(job, events), events if history else None)

    async def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        provider: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[JobView]:
        """Jobs of every run, newest first (without history)."""
        jobs = await self._catalog.jobs.list(
            status=status, provider=provider, limit=limit, offset=offset
        )
        return [job_view(job, False) for job in jobs]

    async def wait_for_run(self, run_id: str, timeout_s: float) -> RunView:
        """The run once it is done, or as it is after ``timeout_s``."""
        view = await self.get_run(run_id)
        if view.done or timeout_s <= 0:
            return view
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                completed = await self.engine.events.wait_completed(run_id)
                view = await self.get_run(run_id)
                while not view.done:
                    # A retried run completed before and completes again with its round.
                    completed = await self.engine.events.wait_completed(run_id, completed)
                    view = await self.get_run(run_id)
        return await self.get_run(run_id)

    def follow(self, run_id: str, after_id: int = 0) -> AsyncIterator[RunEventRecord]:
        """Progress events after ``after_id`` as they happen, ending with ``completed``."""
        return self.engine.events.follow(run_id, after_id)

    async def events(self, run_id: str, after_id: int = 0) -> list[RunEventRecord]:
        await self._catalog.runs.get(run_id)
        return await self.engine.events.after(run_id, after_id)

    async def cancel_run(self, run_id: str) -> RunView:
        """Cancel every unfinished job of the run, at its provider too. Idempotent; jobs that
        already succeeded keep their outputs."""
        run = await self._catalog.runs.get(run_id)
        if run.status in TERMINAL_RUN_STATUSES:
            return await self.get_run(run_id)
        # First the run's status: a job workflow not started yet then ends before submitting.
        await self._catalog.runs.set_status(run_id, "canceled")
        jobs = await self._catalog.jobs.list_for_run(run_id)
        open_jobs = [job.id for job in jobs if not job.is_terminal]
        await self.engine.cancel_workflows(
            [run_workflow_id(run_id), *(job_workflow_id(j) for j in open_jobs)]
        )
        for job_id in open_jobs:
            await self.engine.operations.cancel_job(job_id, "run canceled")
        # A run in a retry round is waited for by the round's workflow (queue_control): it
        # stops too (were it to finish first, its finish and this one are the same).
        round_ = await self.engine.operations.retry_round(run_id)
        if round_:
            await self.engine.cancel_workflows([round_workflow_id(run_id, round_)])
        # The run workflow is canceled before its finish step: the feature finishes it here.
        await self.engine.operations.finish_run(run_id, completion_key=completion_key(round_))
        try:
            await self.engine.hook_dispatch.announce_run_end(run_id)
        except ReelforgeError as exc:
            log.error("hook.announce_failed", run_id=run_id, code=exc.code)
        log.info("run.canceled", run_id=run_id, jobs=len(open_jobs))
        return await self.get_run(run_id)

    async def cancel_job(self, job_id: str) -> JobView:
        """Cancel one job (its run goes on, and ends ``partial`` or ``failed``)."""
        job = await self._catalog.jobs.get(job_id)
        if not job.is_terminal:
            await self.engine.cancel_workflows([job_workflow_id(job_id)])
            await self.engine.operations.cancel_job(job_id, "job canceled")
        return await self.get_job(job_id)

    def _checked_model(self, spec: JobSpec) -> str:
        """The model the job will use; refuses an unknown provider, an unsupported
        capability and invalid options before anything is recorded."""
        cls = self._providers.resolve(spec.provider, spec.capability)
        if cls.id != spec.provider:
            raise InvalidInput(
                f"A job names its provider by id: {cls.id!r}, not {spec.provider!r}.",
                details={"provider": spec.provider, "id": cls.id},
            )
        provider = self._providers.get(cls.id)
        provider.validate_options(spec.options)
        return spec.model or provider.default_model(spec.capability)
