"""``kill -9`` in the middle of a run, embedded mode (SQLite, one process): a restart finishes
the run, and the emulator bills every generation exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    engine_env,
    engine_settings,
    processes,
    submits,
    wait_for_file,
    wait_for_run_end,
    wait_for_submits,
)
from reelforge.catalog import Catalog, upgrade_database
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


async def test_kill_9_mid_run_then_restart_bills_each_generation_once(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    engine = {"executor_id": "crash-host", "queues": {"fal": {"concurrency": 4}}}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    marker = tmp_path / "run_id"
    with processes(tmp_path, engine_env(settings)) as group:
        first = group.runner("first", "--role", "worker", "--start", "12", "--marker", str(marker))
        run_id = await wait_for_file(marker)
        # Kill between two waves of submits: 4 generations done, 4 at the provider, 4 queued.
        await wait_for_submits(emulator, 8, timeout_s=45)
        await asyncio.sleep(0.5)
        group.kill(first)
        at_kill = await submits(emulator)
        assert at_kill == 8, group.log("first")
        group.worker("second")
        async with Catalog.from_url(settings.effective_database_url) as catalog:
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            jobs = await catalog.jobs.list_for_run(run_id)
        assert status == "succeeded", group.log("second")
    ledger = await emulator.ledger("fal")
    billed = [b["request_id"] for b in ledger["billed"]]
    assert ledger["providers"]["fal"]["calls"]["submit"] == 12
    assert len(billed) == len(set(billed)) == 12
    assert sorted(billed) == sorted(str(job.provider_request_id) for job in jobs)
    assert all(job.status == "succeeded" and len(job.asset_ids) == 1 for job in jobs)
    assert ledger["providers"]["fal"]["max_in_flight"] <= 4
