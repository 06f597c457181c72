"""Canceling a run or a job: the provider's cancel call, the run's status, nothing left over."""

from __future__ import annotations

from pathlib import Path

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_settings, fal_still, open_engine_harness, wait_until
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import WaitPolicy
from reelforge.engine.workflows import job_workflow_id, run_workflow_id

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_cancel_during_a_run_reaches_the_provider_and_leaves_nothing_behind(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=3.0, queue_s=0.05)
    engine = {"queues": {"fal": {"concurrency": 2}}}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    async with open_engine_harness(settings) as harness:
        service = harness.engine
        run_id = await service.start_run(
            "test", [fal_still(f"c{i}") for i in range(4)], wait=WaitPolicy(poll_interval_s=0.1)
        )

        async def two_started() -> bool:
            kinds = [e.kind for e in await service.events(run_id)]
            return kinds.count("job_started") == 2

        await wait_until(two_started, 15)
        view = await service.cancel_run(run_id)
        assert view.status == "canceled"
        assert view.done
        assert {job.status for job in view.jobs} == {"canceled"}
        again = await service.cancel_run(run_id)
        assert again.status == "canceled"

        workflow_ids = [run_workflow_id(run_id), *(job_workflow_id(j.id) for j in view.jobs)]

        async def all_stopped() -> bool:
            statuses = await service.engine.workflow_statuses(workflow_ids)
            return set(statuses.values()) <= {"CANCELLED"}

        await wait_until(all_stopped, 10)
        catalog = harness.services.catalog
        assert await catalog.assets.list() == []
        assert _files(settings.media_root) == []
        events = await service.events(run_id)
        assert events[-1].kind == "completed"
        assert events[-1].payload["status"] == "canceled"
        assert [e.kind for e in events].count("completed") == 1
        jobs = await catalog.jobs.list_for_run(run_id)
    assert all(job.status == "canceled" and job.asset_ids == () for job in jobs)
    ledger = await emulator.ledger("fal")
    summary = ledger["providers"]["fal"]
    assert summary["calls"]["submit"] == 2
    assert summary["calls"]["cancel"] == 2
    assert summary["billed"] == 0


async def test_canceling_one_job_lets_the_run_finish_partial(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=1.0, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        run_id = await service.start_run(
            "test", [fal_still("keep"), fal_still("drop")], wait=WaitPolicy(poll_interval_s=0.1)
        )

        async def both_started() -> bool:
            kinds = [e.kind for e in await service.events(run_id)]
            return kinds.count("job_started") == 2

        await wait_until(both_started, 15)
        drop = next(job for job in (await service.get_run(run_id)).jobs if job.label == "drop")
        canceled = await service.cancel_job(drop.id)
        assert canceled.status == "canceled"
        view = await service.wait_for_run(run_id, 15)
    assert view.done
    assert view.status == "partial"
    assert {job.label: job.status for job in view.jobs} == {"keep": "succeeded", "drop": "canceled"}
    summary = (await emulator.ledger("fal"))["providers"]["fal"]
    assert summary["calls"]["cancel"] == 1
    assert summary["billed"] == 1
