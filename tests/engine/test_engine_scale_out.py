"""Scale-out mode (PostgreSQL): two worker processes share a global limit, and when one is
killed the survivor's reaper takes its work over and finishes it, billing nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from fixtures import emulator as emulator_fixtures
from fixtures.database import postgres_database
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    Processes,
    engine_env,
    engine_settings,
    processes,
    submits,
    wait_for_file,
    wait_for_run_end,
    wait_for_submits,
)
from reelforge.catalog import Catalog, create_engine, upgrade_database
from reelforge.emulator import EmulatorServer

pytestmark = pytest.mark.postgres

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

_JOB_WORKFLOWS = text(
    "SELECT workflow_uuid, executor_id, status FROM dbos.workflow_status "
    "WHERE name = 'reelforge.job'"
)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        await upgrade_database(url)
        yield url


async def _job_workflows(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(_JOB_WORKFLOWS)).all()
    finally:
        await engine.dispose()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


async def _start_workers(group: Processes, catalog: Catalog, *names: str) -> None:
    for name in names:
        group.worker(name, executor_id=name)
    async with asyncio.timeout(30):
        while {w.executor_id for w in await catalog.workers.list()} < set(names):
            await asyncio.sleep(0.1)


async def _start_run(group: Processes, folder: Path, jobs: int) -> str:
    marker = folder / "run_id"
    group.runner("starter", "--role", "api", "--start", str(jobs), "--marker", str(marker))
    return await wait_for_file(marker)


async def test_a_global_limit_of_4_holds_across_two_workers(
    tmp_path: Path, pg_url: str, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.6, queue_s=0.05)
    engine = {"queues": {"fal": {"concurrency": 4}}}
    settings = engine_settings(
        tmp_path / "data", emulator_server.base_url, engine=engine, database_url=pg_url
    )
    async with Catalog.from_url(pg_url) as catalog:
        with processes(tmp_path, engine_env(settings)) as group:
            await _start_workers(group, catalog, "w1", "w2")
            run_id = await _start_run(group, tmp_path, 12)
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            assert status == "succeeded", group.log("w1") + group.log("w2")
    summary = (await emulator.ledger("fal"))["providers"]["fal"]
    assert summary["max_in_flight"] == 4
    assert summary["billed"] == 12
    executors = {executor for _, executor, _ in await _job_workflows(pg_url)}
    assert executors == {"w1", "w2"}


async def test_the_survivor_finishes_a_killed_workers_work_through_the_reaper(
    tmp_path: Path, pg_url: str, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    engine = {"queues": {"fal": {"concurrency": 4}}}
    settings = engine_settings(
        tmp_path / "data", emulator_server.base_url, engine=engine, database_url=pg_url
    )
    async with Catalog.from_url(pg_url) as catalog:
        with processes(tmp_path, engine_env(settings)) as group:
            await _start_workers(group, catalog, "w1", "w2")
            run_id = await _start_run(group, tmp_path, 12)
            await wait_for_submits(emulator, 8, timeout_s=45)
            await asyncio.sleep(0.5)
            pending = [row for row in await _job_workflows(pg_url) if row[2] == "PENDING"]
            by_worker = {name: [r for r in pending if r[1] == name] for name in ("w1", "w2")}
            victim = max(by_worker, key=lambda name: len(by_worker[name]))
            survivor = "w2" if victim == "w1" else "w1"
            orphans = {row[0] for row in by_worker[victim]}
            assert orphans, pending
            group.kill(group.children[victim])
            at_kill = await submits(emulator)
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            assert status == "succeeded", group.log(survivor)
            dead = await catalog.workers.get(victim)
    assert dead is not None
    assert dead.reaped_by == survivor
    after = {wid: (executor, state) for wid, executor, state in await _job_workflows(pg_url)}
    assert all(after[wid] == (survivor, "SUCCESS") for wid in orphans)
    ledger = await emulator.ledger("fal")
    billed = [b["request_id"] for b in ledger["billed"]]
    assert at_kill == 8
    assert ledger["providers"]["fal"]["calls"]["submit"] == 12
    assert len(billed) == len(set(billed)) == 12
    assert ledger["providers"]["fal"]["max_in_flight"] <= 4
