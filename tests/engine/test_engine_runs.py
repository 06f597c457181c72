"""Runs of provider jobs on the in-process engine (SQLite), against the emulator: webhooks and
polls racing, duplicate and out-of-order callbacks, retries, priorities, the wait cap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    EngineHarness,
    engine_settings,
    fal_still,
    open_engine_harness,
    wait_until,
)
from reelforge.emulator import EmulatorServer
from reelforge.engine.service import RunView
from reelforge.engine.specs import JobSpec, RetryPolicy, WaitPolicy
from reelforge.providers.base import Capability

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _kinds(history: tuple[dict[str, Any], ...] | None) -> list[str]:
    return [entry["kind"] for entry in history or ()]


async def _run(
    harness: EngineHarness, specs: list[JobSpec], wait: WaitPolicy, timeout_s: float = 20
) -> RunView:
    run_id = await harness.engine.start_run("test", specs, wait=wait)
    view = await harness.engine.wait_for_run(run_id, timeout_s)
    assert view.done, view
    return view


async def _count(found: Any, expected: int) -> bool:
    return len(await found) >= expected


async def _billed(emulator: EmulatorControl) -> list[str]:
    return [b["request_id"] for b in (await emulator.ledger("fal"))["billed"]]


async def test_a_run_completes_each_generation_billed_once_history_complete(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False) as harness:
        view = await _run(
            harness, [fal_still(f"f{i}") for i in range(3)], WaitPolicy(poll_interval_s=0.1)
        )
        assert view.status == "succeeded"
        assert [job.label for job in view.jobs] == ["f0", "f1", "f2"]
        assert all(len(job.asset_ids) == 1 for job in view.jobs)
        job = await harness.engine.get_job(view.jobs[0].id)
        assert job.cost_usd is not None
        kinds = _kinds(job.history)
        statuses = [e["status"] for e in job.history or () if e["kind"] == "status"]
        assert statuses == ["queued", "running", "succeeded"]
        assert "poll" in kinds
        events = [e.kind for e in await harness.engine.events(view.id)]
        assert events[:2] == ["queued", "started"]
        assert events.count("job_started") == 3
        assert events.count("job_succeeded") == 3
        assert events[-1] == "completed"
        asset = await harness.services.assets.get(job.asset_ids[0])
        assert asset.source == "provider"
        assert asset.width == 512
    billed = await _billed(emulator)
    assert sorted(billed) == sorted(str(j.provider_request_id) for j in view.jobs)


async def test_webhook_first_finishes_the_job_without_polling(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings) as harness:
        view = await _run(harness, [fal_still("w")], WaitPolicy(poll_interval_s=30.0), 10)
        job = await harness.engine.get_job(view.jobs[0].id)
    assert job.status == "succeeded"
    kinds = _kinds(job.history)
    assert kinds.count("webhook") == 1
    assert "poll" not in kinds
    ledger = await emulator.ledger("fal")
    assert ledger["providers"]["fal"]["billed"] == 1
    assert ledger["providers"]["fal"]["calls"].get("status", 0) == 0


async def test_poll_first_then_the_late_webhook_changes_nothing(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    await emulator.inject("fal", "webhook", "delayed", delay_s=1.0, count=None)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings) as harness:
        view = await _run(harness, [fal_still("p")], WaitPolicy(poll_interval_s=0.1), 10)
        job_id = view.jobs[0].id

        async def late_recorded() -> bool:
            found = await harness.services.catalog.webhook_events.list(provider="fal")
            return any(e.outcome == "late" for e in found)

        await wait_until(late_recorded, 10)
        job = await harness.engine.get_job(job_id)
        again = await harness.engine.get_run(view.id)
    assert job.status == "succeeded"
    assert again.status == "succeeded"
    webhooks = [e for e in job.history or () if e["kind"] == "webhook"]
    assert [w["payload"]["outcome"] for w in webhooks] == ["late"]
    assert len(job.asset_ids) == 1
    assert len(await _billed(emulator)) == 1


async def test_duplicate_and_out_of_order_webhooks_change_nothing(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    await emulator.inject("fal", "webhook", "duplicated", count=2)
    await emulator.inject("fal", "webhook", "out_of_order", delay_s=0.5, count=1)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings) as harness:
        view = await _run(
            harness, [fal_still(f"d{i}") for i in range(4)], WaitPolicy(poll_interval_s=30.0)
        )
        webhooks = harness.services.catalog.webhook_events
        # A delivery is recorded just after it reached its workflow: wait for the last ones.
        await wait_until(lambda: _count(webhooks.list(provider="fal"), 6))
        received = await webhooks.list(provider="fal")
        jobs = [await harness.engine.get_job(job.id) for job in view.jobs]
    assert view.status == "succeeded"
    outcomes = sorted(e.outcome for e in received)
    assert outcomes.count("delivered") == 4
    assert outcomes.count("duplicate") == 2
    for job in jobs:
        statuses = [e["status"] for e in job.history or () if e["kind"] == "status"]
        assert statuses == ["queued", "running", "succeeded"]
        assert len(job.asset_ids) == 1
    assert len(set(await _billed(emulator))) == len(await _billed(emulator)) == 4


async def test_a_retryable_submit_failure_is_retried_with_backoff(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    await emulator.inject("fal", "submit", "http_503", count=1)
    await emulator.inject("fal", "generate", "failed", count=1)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    retry = RetryPolicy(max_retries=2, backoff_s=0.05)
    async with open_engine_harness(settings, webhooks=False) as harness:
        view = await _run(harness, [fal_still("r", retry=retry)], WaitPolicy(poll_interval_s=0.1))
        job = await harness.engine.get_job(view.jobs[0].id)
        events = [e.kind for e in await harness.engine.events(view.id)]
    assert job.status == "succeeded"
    assert events.count("job_retrying") == 2
    statuses = [e["status"] for e in job.history or () if e["kind"] == "status"]
    assert statuses == ["queued", "running", "queued", "running", "succeeded"]
    ledger = await emulator.ledger("fal")
    assert ledger["providers"]["fal"]["calls"]["submit"] == 3
    assert ledger["providers"]["fal"]["billed"] == 1


async def test_a_refused_input_is_not_retried(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.inject("fal", "submit", "invalid_input", count=1)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    retry = RetryPolicy(max_retries=2, backoff_s=0.05)
    async with open_engine_harness(settings, webhooks=False) as harness:
        view = await _run(harness, [fal_still("x", retry=retry)], WaitPolicy(poll_interval_s=0.1))
    assert view.status == "failed"
    assert view.jobs[0].error is not None
    assert view.jobs[0].error["code"] == "provider_invalid_input"
    assert (await emulator.ledger("fal"))["providers"]["fal"]["calls"]["submit"] == 1


async def test_interactive_work_goes_ahead_of_batch_work(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.0)
    engine = {"queues": {"fal": {"concurrency": 1}}}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    wait = WaitPolicy(poll_interval_s=0.05)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        batch = await service.start_run(
            "test", [fal_still(f"b{i}") for i in range(3)], wait=wait, priority="batch"
        )
        await asyncio.sleep(0.15)
        urgent = await service.start_run("test", [fal_still("now")], wait=wait)
        urgent_view = await service.wait_for_run(urgent, 15)
        batch_view = await service.wait_for_run(batch, 15)
    assert urgent_view.status == batch_view.status == "succeeded"
    finished = sorted(
        [*batch_view.jobs, *urgent_view.jobs], key=lambda job: job.finished_at or job.created_at
    )
    order = [job.label for job in finished]
    assert order.index("now") <= 1, order


async def test_past_the_cap_a_job_is_pending_and_still_finishes(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=2.0, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    wait = WaitPolicy(poll_interval_s=0.1, cap_s=0.3, after_cap_interval_s=0.1)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        run_id = await service.start_run("test", [fal_still("slow")], wait=wait)
        async with asyncio.timeout(10):
            async for event in service.follow(run_id):
                if event.kind == "job_pending":
                    break
        early = await service.get_run(run_id)
        late = await service.wait_for_run(run_id, 10)
    assert not early.done
    assert early.pending == (early.jobs[0].id,)
    assert early.jobs[0].pending
    assert early.jobs[0].status == "running"
    assert late.done
    assert late.status == "succeeded"
    assert late.pending == ()


async def test_a_job_that_never_finishes_is_given_up_and_canceled_at_the_provider(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=5.0, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    wait = WaitPolicy(poll_interval_s=0.1, cap_s=0.2, after_cap_interval_s=0.1, give_up_after_s=0.5)
    async with open_engine_harness(settings, webhooks=False) as harness:
        view = await _run(harness, [fal_still("never")], wait, 10)
    assert view.status == "failed"
    assert view.jobs[0].error is not None
    assert view.jobs[0].error["code"] == "provider_timeout"
    ledger = await emulator.ledger("fal")
    assert ledger["providers"]["fal"]["calls"].get("cancel") == 1
    assert ledger["providers"]["fal"]["billed"] == 0


async def test_local_studio_jobs_run_inline(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    spec = JobSpec(
        provider="local",
        capability=Capability.TEXT_TO_IMAGE,
        prompt="a harbour at dawn",
        width=320,
        height=180,
        label="previz",
    )
    async with open_engine_harness(settings, webhooks=False) as harness:
        view = await _run(harness, [spec, spec], WaitPolicy(poll_interval_s=0.1))
        asset = await harness.services.assets.get(view.jobs[0].asset_ids[0])
    assert view.status == "succeeded"
    assert asset.content_type == "image/png"
    assert asset.width == 320
