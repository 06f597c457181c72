"""Queue control against the fal emulator: a paused queue submits nothing until resumed; a
retried run bills exactly its failed jobs again; priority, bulk cancel and the queue view."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dbos import DBOS

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    EngineHarness,
    engine_settings,
    fal_still,
    open_engine_harness,
    wait_until,
)
from reelforge.budget.scopes import BudgetScope
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import WaitPolicy
from reelforge.engine.workflows import job_workflow_id
from reelforge.errors import Conflict, InvalidInput

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

WAIT = WaitPolicy(poll_interval_s=0.1)
PROJECT = BudgetScope("project", "harbour")


async def _submits(emulator: EmulatorControl) -> list[dict[str, Any]]:
    calls = (await emulator.ledger("fal"))["calls"]
    return [c for c in calls if c["operation"] == "submit" and c["status"] < 300]


async def _held_checks(job_id: str) -> int:
    """How many times the job's workflow found its queue paused before submitting."""
    steps = await DBOS.list_workflow_steps_async(job_workflow_id(job_id))
    return sum(1 for s in steps if s["function_name"].endswith("job.paused") and s["output"])


async def test_a_paused_fal_queue_submits_nothing_until_resumed_then_the_run_completes(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    # Two in flight at a time and slow generations: the pause lands while two are submitted
    # and two wait on the queue.
    await emulator.configure(latency_s=3.0, queue_s=0.05)
    engine = {"queues": {"fal": {"concurrency": 2}}}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        run_id = await service.start_run("test", [fal_still(f"p{i}") for i in range(4)], wait=WAIT)

        async def two_started() -> bool:
            kinds = [e.kind for e in await service.events(run_id)]
            return kinds.count("job_started") == 2

        await wait_until(two_started, 20)
        pause = await service.queues.pause("provider", "fal")
        assert (pause.scope, pause.target) == ("provider", "fal")
        assert len(await _submits(emulator)) == 2

        # The submitted two finish; the other two reach their submit step and are held there,
        # each looking at the pause more than once, still queued and not failed.
        async def others_held() -> bool:
            jobs = (await service.get_run(run_id)).jobs
            waiting = [job for job in jobs if job.status == "queued"]
            if len(waiting) != 2 or sum(j.status == "succeeded" for j in jobs) != 2:
                return False
            return all([await _held_checks(job.id) >= 2 for job in waiting])

        await wait_until(others_held, 40)
        assert len(await _submits(emulator)) == 2
        view = await service.queues.view()
        fal = next(q for q in view.providers if q.provider == "fal")
        assert fal.paused_at is not None
        assert (fal.in_flight, fal.queued, fal.held) == (0, 2, 2)
        assert fal.oldest_wait_s is not None
        assert fal.oldest_wait_s > 0
        assert not (await service.get_run(run_id)).done

        assert await service.queues.resume("provider", "fal") is True
        done = await service.wait_for_run(run_id, 40)
    assert done.status == "succeeded"
    assert len(await _submits(emulator)) == 4
    assert (await emulator.ledger("fal"))["providers"]["fal"]["billed"] == 4


async def test_a_paused_run_waits_while_another_run_on_the_same_queue_goes_on(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.02)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        held_run = await service.start_run("test", [fal_still("held")], wait=WAIT)
        await service.queues.pause("run", held_run)
        free_run = await service.start_run("test", [fal_still("free")], wait=WAIT)
        assert (await service.wait_for_run(free_run, 30)).status == "succeeded"
        held_job = (await service.get_run(held_run)).jobs[0]

        async def held() -> bool:
            return await _held_checks(held_job.id) >= 1

        await wait_until(held, 20)
        assert (await service.get_job(held_job.id)).status == "queued"
        view = await service.queues.view()
        assert [p.target for p in view.paused_runs] == [held_run]
        await service.queues.resume("run", held_run)
        assert (await service.wait_for_run(held_run, 30)).status == "succeeded"
    assert len(await _submits(emulator)) == 2


async def test_retrying_a_run_with_two_failed_frames_bills_exactly_two_more_generations(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(
        latency_s=0.1,
        queue_s=0.02,
        faults=[{"provider": "fal", "operation": "generate", "kind": "failed", "count": 2}],
    )
    settings = engine_settings(
        tmp_path / "data", emulator_server.base_url, engine={"queues": {"fal": {"concurrency": 1}}}
    )
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        budget = harness.services.budget
        await budget.set_cap(PROJECT, Decimal("50"), "total")
        specs = [fal_still(f"f{i}", budget_scopes=(PROJECT.key,)) for i in range(4)]
        run_id = await service.start_run("test", specs, wait=WAIT)
        first = await service.wait_for_run(run_id, 30)
        assert first.status == "partial"
        failed = {job.id: job.label for job in first.jobs if job.status == "failed"}
        assert len(failed) == 2
        billed_before = (await emulator.ledger("fal"))["providers"]["fal"]["billed"]
        submits_before = len(await _submits(emulator))
        spent_before = (await budget.balance(PROJECT)).spent_usd
        settles_before = await _settles(harness)

        retried = await service.queues.retry(run_id)
        assert not retried.done
        assert len(retried.jobs) == 6
        done = await service.wait_for_run(run_id, 30)
        assert done.status == "succeeded"
        # The history keeps both: the failed jobs, and their retries.
        statuses = [job.status for job in done.jobs]
        assert statuses.count("failed") == 2
        assert statuses.count("succeeded") == 4
        retries = [job for job in done.jobs if job.id not in failed and job.status == "succeeded"]
        assert {job.label for job in retries} >= set(failed.values())
        for job_id in failed:
            notes = [h["payload"] for h in (await service.get_job(job_id)).history or ()]
            assert any("retried_by" in note for note in notes)
        with pytest.raises(Conflict):
            await service.queues.retry(run_id)
        price = (await service.get_job(retries[0].id)).cost_usd
        assert price is not None
        assert (await budget.balance(PROJECT)).spent_usd - spent_before == 2 * Decimal(price)
        assert await _settles(harness) - settles_before == 2
        events = [e for e in await service.events(run_id) if e.kind == "completed"]
        assert [e.payload["status"] for e in events] == ["partial", "succeeded"]
        # Followed from the start, the run ends with its retry's completion.
        followed = [e async for e in service.follow(run_id)]
        assert followed[-1].id == events[-1].id
    ledger = await emulator.ledger("fal")
    assert ledger["providers"]["fal"]["billed"] - billed_before == 2
    assert len(await _submits(emulator)) - submits_before == 2


async def _settles(harness: EngineHarness) -> int:
    entries = await harness.services.budget.ledger(scope=PROJECT, limit=1000)
    return sum(1 for entry in entries if entry.kind == "settle")


async def test_a_raised_run_is_dequeued_ahead_of_batch_work_queued_before_it(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    engine = {"queues": {"fal": {"concurrency": 1}}}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        # The paused queue's one slot is taken by a job held at its submit step; the rest
        # wait on the queue itself, where priority orders them.
        await service.queues.pause("provider", "fal")
        blocker = await service.start_run("test", [fal_still("blocker")], wait=WAIT)
        blocker_job = (await service.get_run(blocker)).jobs[0]

        async def blocker_held() -> bool:
            return await _held_checks(blocker_job.id) >= 1

        await wait_until(blocker_held, 20)
        early = await service.start_run(
            "test", [fal_still(f"early{i}") for i in range(2)], wait=WAIT, priority="batch"
        )
        late = await service.start_run("test", [fal_still("late")], wait=WAIT, priority="batch")

        async def all_enqueued() -> bool:
            queued = await DBOS.list_queued_workflows_async(queue_name="reelforge-provider-fal")
            return sum(1 for w in queued if w.status == "ENQUEUED") == 3

        await wait_until(all_enqueued, 20)
        assert await service.queues.set_priority(late, "interactive") == 1
        await service.queues.resume("provider", "fal")
        for run_id in (blocker, early, late):
            assert (await service.wait_for_run(run_id, 40)).status == "succeeded"
        late_start = (await service.get_run(late)).jobs[0].started_at
        early_starts = [job.started_at for job in (await service.get_run(early)).jobs]
    assert late_start is not None
    assert all(start is not None and late_start < start for start in early_starts)


async def test_cancel_queued_work_of_a_provider_and_bad_targets(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.02)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        controls = service.queues
        with pytest.raises(InvalidInput):
            await controls.pause("provider", "no-such-provider")
        with pytest.raises(InvalidInput):
            await controls.cancel_queued()
        await controls.pause("provider", "fal")
        first = await service.start_run("test", [fal_still(f"b{i}") for i in range(3)], wait=WAIT)
        other = await service.start_run("test", [fal_still("o")], wait=WAIT, project_id="elsewhere")
        assert await controls.cancel_queued(project_id="nothing-here") == []
        assert len(await controls.cancel_queued(project_id="elsewhere")) == 1
        assert len(await controls.cancel_queued(provider="fal")) == 3
        for run_id in (first, other):
            done = await service.wait_for_run(run_id, 20)
            assert {job.status for job in done.jobs} == {"canceled"}
        await controls.resume("provider", "fal")
    assert await _submits(emulator) == []


async def test_canceling_a_run_in_its_retry_round_stops_the_round(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(
        latency_s=0.1,
        queue_s=0.02,
        faults=[{"provider": "fal", "operation": "generate", "kind": "failed", "count": 1}],
    )
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        run_id = await service.start_run("test", [fal_still("once")], wait=WAIT)
        assert (await service.wait_for_run(run_id, 30)).status == "failed"
        await emulator.configure(latency_s=5.0, queue_s=0.02)
        await service.queues.retry(run_id)

        async def retry_submitted() -> bool:
            return (await service.get_run(run_id)).jobs[1].status == "running"

        await wait_until(retry_submitted, 20)
        canceled = await service.cancel_run(run_id)
        assert canceled.status == "canceled"
        assert (await service.wait_for_run(run_id, 5)).done
        round_id = f"run-{run_id}-retry-1"

        async def round_stopped() -> bool:
            statuses = await service.engine.workflow_statuses([round_id])
            return statuses.get(round_id) == "CANCELLED"

        await wait_until(round_stopped, 10)
        completed = [e.payload for e in await service.events(run_id) if e.kind == "completed"]
        assert [c["status"] for c in completed] == ["failed", "canceled"]
