"""The search for runs left without their workflow, on SQLite and PostgreSQL, against an engine
stand-in: which runs it starts (and with what), which it drops, which it leaves alone, and how
little it reads when there is nothing to do. The crash itself, with real processes, is in
test_stranded_runs. Last, a chained stage's run dropped just as its feature starts it again."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fixtures.database import blank_database_url, catalog, database_backend, database_url
from fixtures.engine import engine_settings, fal_still, open_engine_harness
from reelforge.catalog import Catalog
from reelforge.catalog.records import JobRecord, RunRecord
from reelforge.catalog.repositories import NewJob, NewRunEvent, utc_now
from reelforge.engine.config import EngineSettings
from reelforge.engine.faults import FAULT_MARKER_ENV, FAULT_POINT_ENV, FaultPoints
from reelforge.engine.features import RunPlan, stable_run_id
from reelforge.engine.specs import BATCH_PRIORITY, JobSpec, WaitPolicy
from reelforge.engine.stranded import Reconciled, StrandedRuns
from reelforge.engine.workflows import run_workflow_id
from reelforge.errors import ConfigurationError, NotFound
from reelforge.providers.base import Capability

__all__ = ["blank_database_url", "catalog", "database_backend", "database_url"]

GRACE = EngineSettings(start_grace_s=30)


class FakeEngine:
    """Workflows by id, as DBOS would hold them; starts recorded."""

    def __init__(self) -> None:
        self.workflows: set[str] = set()
        self.started: list[tuple[str, list[dict[str, Any]]]] = []
        self.lookups = 0

    async def start_run(self, run_id: str, jobs: list[dict[str, Any]]) -> None:
        self.started.append((run_id, jobs))
        self.workflows.add(run_workflow_id(run_id))

    async def workflow_statuses(self, workflow_ids: list[str]) -> dict[str, str]:
        self.lookups += 1
        return {wid: "PENDING" for wid in workflow_ids if wid in self.workflows}


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> datetime:
        return self.now


def _job(label: str) -> NewJob:
    spec = fal_still(label).model_copy(update={"wait": WaitPolicy(poll_interval_s=0.3)})
    return NewJob("fal", "fal-ai/flux/schnell", "text_to_image", spec.model_dump(mode="json"))


async def _run(catalog: Catalog, jobs: int, *, priority: str | None = "batch") -> RunRecord:
    run = await catalog.runs.create(feature="keyframes", input={})
    if jobs:
        event = NewRunEvent("queued", {"jobs": jobs, "priority": priority}, key="queued")
        await catalog.jobs.create_many(
            [_job(f"f{i}") for i in range(jobs)], run_id=run.id, run_event=event
        )
    return run


async def test_a_run_without_its_workflow_starts_from_its_jobs_and_one_without_jobs_goes(
    catalog: Catalog,
) -> None:
    engine, clock = FakeEngine(), Clock()
    stranded = await _run(catalog, 2)
    jobless = await _run(catalog, 0)
    queued = await _run(catalog, 1)
    engine.workflows.add(run_workflow_id(queued.id))
    running = await _run(catalog, 1)
    await catalog.runs.set_status(running.id, "running")
    runs = StrandedRuns(catalog, engine, GRACE, exclusive=False, now=clock)

    clock.now += timedelta(seconds=29)  # inside the grace period
    assert await runs.reconcile() == Reconciled()
    assert engine.started == []

    clock.now += timedelta(seconds=2)
    done = await runs.reconcile()
    assert (done.started, done.dropped) == ([stranded.id], [jobless.id])
    [(run_id, plan)] = engine.started
    jobs = await catalog.jobs.list_for_run(stranded.id)
    assert run_id == stranded.id
    assert plan == [
        {
            "job_id": job.id,
            "spec": job.request,
            "wait": job.request["wait"],
            "priority": BATCH_PRIORITY,
        }
        for job in jobs
    ]
    assert plan[0]["wait"]["poll_interval_s"] == 0.3
    with pytest.raises(NotFound):
        await catalog.runs.get(jobless.id)
    again = await runs.reconcile()
    assert (again.started, again.dropped) == ([], [])
    assert len(engine.started) == 1


async def test_an_idle_pass_reads_the_runs_once_and_asks_the_engine_nothing(
    catalog: Catalog,
) -> None:
    engine, clock = FakeEngine(), Clock()
    done = await _run(catalog, 1)
    await catalog.runs.set_status(done.id, "succeeded")
    runs = StrandedRuns(catalog, engine, GRACE, exclusive=False, now=clock)
    clock.now += timedelta(hours=1)
    for _ in range(3):
        await runs.reconcile()
    assert engine.lookups == 0
    assert engine.started == []


async def test_embedded_takes_older_runs_at_boot_and_newer_ones_after_the_grace(
    catalog: Catalog,
) -> None:
    engine, clock = FakeEngine(), Clock()
    before = await _run(catalog, 1)
    clock.now = utc_now()
    runs = StrandedRuns(catalog, engine, GRACE, exclusive=True, now=clock)
    after = await _run(catalog, 1)
    clock.now = utc_now()
    assert (await runs.reconcile()).started == [before.id]
    clock.now = utc_now() + timedelta(seconds=31)
    assert (await runs.reconcile()).started == [after.id]


async def test_a_backlog_of_queued_runs_does_not_hide_a_stranded_one(catalog: Catalog) -> None:
    engine, clock = FakeEngine(), Clock()
    for _ in range(3):
        engine.workflows.add(run_workflow_id((await _run(catalog, 1)).id))
    stranded = await _run(catalog, 1, priority=None)
    runs = StrandedRuns(catalog, engine, GRACE, exclusive=False, now=clock, page=2)
    clock.now = utc_now() + timedelta(seconds=31)
    assert (await runs.reconcile()).started == []
    assert (await runs.reconcile()).started == [stranded.id]
    # A run whose queued event says nothing of its priority runs at the default.
    assert engine.started[0][1][0]["priority"] == 1


async def test_only_a_pending_run_without_jobs_is_dropped(catalog: Catalog) -> None:
    with_jobs = await _run(catalog, 1)
    jobless_running = await _run(catalog, 0)
    await catalog.runs.set_status(jobless_running.id, "running")
    assert not await catalog.runs.drop_unstarted(with_jobs.id)
    assert not await catalog.runs.drop_unstarted(jobless_running.id)
    assert not await catalog.runs.drop_unstarted("0" * 32)
    assert (await catalog.runs.get(with_jobs.id)).status == "pending"
    events = await catalog.run_events.after(with_jobs.id)
    assert [event.kind for event in events] == ["queued"]


async def test_a_chosen_run_dropped_just_as_it_is_started_again_is_recorded_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the local studio is used: no emulator behind this URL.
    settings = engine_settings(tmp_path / "data", "http://127.0.0.1:9")
    async with open_engine_harness(settings, webhooks=False) as harness:
        catalog = harness.services.catalog
        run_id = stable_run_id("test", "dropped")
        # A crash cut the start of this chained stage off before its jobs...
        await catalog.runs.create(feature="stage", input={}, run_id=run_id)
        recorded = catalog.jobs.list_for_run

        async def dropped_first(wanted: str) -> list[JobRecord]:
            # ...and a reconciler drops it just as the stage's finish, run again, starts it.
            monkeypatch.setattr(catalog.jobs, "list_for_run", recorded)
            assert await catalog.runs.drop_unstarted(wanted)
            return await recorded(wanted)

        monkeypatch.setattr(catalog.jobs, "list_for_run", dropped_first)
        still = JobSpec(
            provider="local",
            capability=Capability.TEXT_TO_IMAGE,
            prompt="a stage",
            width=320,
            height=180,
        )
        plan = RunPlan(jobs=[still], input={"stage": 2}, run_id=run_id)
        assert await harness.engine.start("stage", plan) == run_id
        assert catalog.jobs.list_for_run == recorded
        view = await harness.engine.wait_for_run(run_id, 60)
        assert (view.done, view.status, len(view.jobs)) == (True, "succeeded", 1)


def test_fault_points_are_disarmed_unless_both_variables_name_one(tmp_path: Path) -> None:
    marker = tmp_path / "marker.json"
    FaultPoints.from_environ({}).reached("before_enqueue", "r")
    with pytest.raises(ConfigurationError):
        FaultPoints.from_environ({FAULT_POINT_ENV: "before_enqueue"})
    with pytest.raises(ConfigurationError):
        FaultPoints.from_environ({FAULT_POINT_ENV: "nowhere", FAULT_MARKER_ENV: str(marker)})
    armed = FaultPoints("before_enqueue", marker, hold_s=0)
    armed.reached("after_enqueue", "r")
    assert not marker.exists()
    armed.reached("before_enqueue", "r")
    assert json.loads(marker.read_text()) == {"point": "before_enqueue", "run_id": "r"}
    marker.unlink()
    armed.reached("before_enqueue", "r")  # once only
    assert not marker.exists()
