"""Runs recorded but never started: found, and started or dropped, by every process that runs work.

:meth:`EngineService.start_run <reelforge.engine.service.EngineService.start_run>` writes the
run's row, then its jobs with its ``queued`` event (one transaction), then starts the run's
workflow ``run-<run id>`` in DBOS (or enqueues it on the runs queue). The catalog and DBOS's
system database are never written in one transaction (on SQLite they are two files; on
PostgreSQL DBOS writes on its own connections), so a process killed between the catalog
writes and the start leaves a run ``pending`` forever, with no workflow behind it.

Moving the catalog writes into the workflow would not close that gap: the request answers with
the run's id, and a run that only a worker's first step records is unknown to the catalog
until a worker dequeues it (``GET /v1/runs/{id}`` answers 404 meanwhile); a feature's chained
stage is refused or accepted under its chosen id (``stable_run_id``) by reading the catalog
first. So the catalog stays first, as the record of what was asked, and this module finishes
what a crash cut off. :meth:`StrandedRuns.reconcile` runs at boot and every heartbeat, from the
reaper's loop (:mod:`reelforge.engine.reaper`):

- a ``pending`` run older than the grace period, with jobs and no ``run-<id>`` workflow in
  DBOS, gets its workflow started from what the catalog holds: each job's ``request`` is its
  spec with its wait policy, the run's priority is in its ``queued`` event. The workflow id is
  the run's, so a start racing another (a second worker's pass, or the first process that was
  only slow) makes one workflow: DBOS hands back the existing one, inputs unchanged;
- a ``pending`` run with no jobs (cut off between its row and its jobs) is deleted with its
  events, unless jobs appeared meanwhile (checked under the row's lock). The request never
  answered, so nobody holds the id; a feature that chose it (a chained stage) starts it again
  from its own finish, which the crash cut off as well, and that start records it afresh.

A feature may record work of its own before it starts that work's run (an
:class:`~reelforge.engine.features.UnstartedWork`): after the runs, each pass asks every such
feature to end its records made before the same cutoff whose run was never started.

Grace: ``engine.start_grace_s``, far longer than any live start takes. In embedded mode this
process holds the one-process lock, so every run created before it started was left by a dead
process: those are taken at once (the boot pass) whatever their age.

Cost: one indexed read of the pending runs (``ix_runs_status_created_at``) per pass, which finds
nothing on an idle system. Runs that wait on the runs queue are pending too, with a workflow:
they cost one DBOS lookup per page, and the pass pages past them (a cursor kept between
passes), so a backlog never hides a stranded run behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from reelforge.catalog import Catalog
from reelforge.catalog.records import JobRecord, RunRecord
from reelforge.catalog.repositories import utc_now
from reelforge.engine.config import EngineSettings
from reelforge.engine.features import FeatureDirectory, UnstartedWork
from reelforge.engine.specs import Priority, WaitPolicy, priority_value, workflow_spec
from reelforge.engine.workflows import run_workflow_id
from reelforge.errors import NotFound, ReelforgeError
from reelforge.log import get_logger
from reelforge.tracing import bind_trace, trace_id_of

__all__ = ["Reconciled", "RunStarter", "StrandedRuns", "workflow_jobs"]

log = get_logger(__name__)

# A run whose queued event is missing (jobs recorded by an older release) runs at the default.
_DEFAULT_PRIORITY: Priority = "interactive"


def workflow_jobs(jobs: Sequence[JobRecord], priority: Priority) -> list[dict[str, Any]]:
    """The run workflow's input: each job's id, its spec and wait policy as recorded in its
    ``request`` (without a prompt the job does not keep: :func:`workflow_spec`), and the run's
    priority."""
    value = priority_value(priority)
    return [
        {
            "job_id": job.id,
            "spec": workflow_spec(job.request),
            "wait": job.request.get("wait") or WaitPolicy().model_dump(mode="json"),
            "priority": value,
        }
        for job in jobs
    ]


class RunStarter(Protocol):
    """What the reconciler needs of the engine (:class:`~reelforge.engine.runtime.Engine`)."""

    async def start_run(self, run_id: str, jobs: list[dict[str, Any]]) -> None: ...

    async def workflow_statuses(self, workflow_ids: list[str]) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What one pass did: runs whose workflow it started, runs without jobs it deleted, and
    features' records it had ended (``feature:id``) because their run was never started."""

    started: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


class StrandedRuns:
    """Finds pending runs without a workflow and starts (or drops) them; see the module doc."""

    def __init__(
        self,
        catalog: Catalog,
        starter: RunStarter,
        settings: EngineSettings,
        *,
        exclusive: bool,
        now: Callable[[], datetime] = utc_now,
        page: int = 50,
        features: FeatureDirectory | None = None,
    ) -> None:
        """``exclusive``: this process is, from now on, the only one that starts runs
        (embedded mode, built once the lock is taken): runs created before are taken at once.
        ``features``: those that are :class:`UnstartedWork` are asked every pass."""
        self._catalog = catalog
        self._features = features or FeatureDirectory()
        self._starter = starter
        self._grace = timedelta(seconds=settings.start_grace_s)
        self._now = now
        self._exclusive_since = now() if exclusive else None
        self._page = page
        self._cursor: tuple[datetime, str] | None = None

    def cutoff(self) -> datetime:
        """Runs created before this are no longer being started by a live process."""
        cutoff = self._now() - self._grace
        if self._exclusive_since is not None:
            cutoff = max(cutoff, self._exclusive_since)
        return cutoff

    async def reconcile(self) -> Reconciled:
        """One pass over a page of pending runs past the grace period, then the features'
        records whose run was never started (after the runs: a run dropped here is gone)."""
        cutoff = self.cutoff()
        done = Reconciled()
        await self._runs(cutoff, done)
        for feature in self._features:
            if not isinstance(feature, UnstartedWork):
                continue
            try:
                ended = await feature.end_unstarted(cutoff)
            except ReelforgeError as exc:
                log.warning("run.stranded.feature_failed", feature=feature.name, code=exc.code)
                continue
            done.ended.extend(f"{feature.name}:{ident}" for ident in ended)
        return done

    async def _runs(self, cutoff: datetime, done: Reconciled) -> None:
        runs = await self._catalog.runs.unstarted(cutoff, after=self._cursor, limit=self._page)
        # A full page: the next pass goes on after it; else it starts over from the oldest.
        self._cursor = (runs[-1].created_at, runs[-1].id) if len(runs) == self._page else None
        if not runs:
            return
        known = await self._starter.workflow_statuses([run_workflow_id(run.id) for run in runs])
        for run in runs:
            if run_workflow_id(run.id) in known:
                continue
            with bind_trace(trace_id_of(run.traceparent)):
                try:
                    await self._reconcile(run, done)
                except ReelforgeError as exc:
                    # Left for the next pass; one run's trouble does not hold the others up.
                    log.warning("run.stranded.failed", run_id=run.id, code=exc.code)

    async def _reconcile(self, run: RunRecord, done: Reconciled) -> None:
        try:
            jobs = await self._catalog.jobs.list_for_run(run.id)
        except NotFound:
            return  # deleted meanwhile (another process's pass)
        if not jobs:
            if await self._catalog.runs.drop_unstarted(run.id):
                done.dropped.append(run.id)
                log.warning(
                    "run.stranded.dropped",
                    run_id=run.id,
                    feature=run.feature,
                    reason="its start was cut off before its jobs were recorded",
                )
            return
        priority = await self._priority(run.id)
        await self._starter.start_run(run.id, workflow_jobs(jobs, priority))
        done.started.append(run.id)
        log.warning(
            "run.stranded.started",
            run_id=run.id,
            feature=run.feature,
            jobs=len(jobs),
            created_at=run.created_at.isoformat(),
        )

    async def _priority(self, run_id: str) -> Priority:
        for event in await self._catalog.run_events.after(run_id):
            if event.kind == "queued" and event.payload.get("priority") in ("interactive", "batch"):
                return cast(Priority, event.payload["priority"])
        return _DEFAULT_PRIORITY
