"""Scale-out mode (PostgreSQL): a pause made in another process (a client, as the CLI is)
holds a worker process's jobs before their submit, and its resume lets them go."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from fixtures import emulator as emulator_fixtures
from fixtures.database import postgres_database
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    engine_env,
    engine_settings,
    processes,
    wait_for_file,
    wait_for_run_end,
    wait_until,
)
from reelforge.catalog import create_engine, upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.engine.workflows import job_workflow_id
from reelforge.services import open_services

pytestmark = pytest.mark.postgres

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

# Each check of the pause is a step; a second one means the first found the queue paused.
_PAUSE_CHECKS = text(
    "SELECT count(*) FROM dbos.operation_outputs "
    "WHERE workflow_uuid = :workflow AND function_name = 'reelforge.job.paused'"
)


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        await upgrade_database(url)
        yield url


async def _pause_checks(url: str, job_id: str) -> int:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(_PAUSE_CHECKS, {"workflow": job_workflow_id(job_id)})
    finally:
        await engine.dispose()
    return int(found or 0)


async def test_a_pause_from_another_process_holds_a_worker_until_resumed(
    tmp_path: Path, pg_url: str, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=3.0, queue_s=0.05)
    engine = {"queues": {"fal": {"concurrency": 1}}}
    settings = engine_settings(
        tmp_path / "data", emulator_server.base_url, engine=engine, database_url=pg_url
    )
    with processes(tmp_path, engine_env(settings)) as group:
        group.worker("w1", executor_id="w1")
        marker = tmp_path / "run_id"
        group.runner("starter", "--role", "api", "--start", "2", "--marker", str(marker))
        run_id = await wait_for_file(marker)
        async with open_services(settings, engine="client") as services:
            service = services.engine
            catalog = services.catalog

            async def first_submitted() -> bool:
                return any(j.status == "running" for j in await catalog.jobs.list_for_run(run_id))

            await wait_until(first_submitted, 60)
            await service.queues.pause("provider", "fal")

            async def second_held() -> bool:
                jobs = await catalog.jobs.list_for_run(run_id)
                waiting = [job for job in jobs if job.status == "queued"]
                succeeded = [job for job in jobs if job.status == "succeeded"]
                if len(waiting) != 1 or len(succeeded) != 1:
                    return False
                return await _pause_checks(pg_url, waiting[0].id) >= 2

            await wait_until(second_held, 60)
            calls = (await emulator.ledger("fal"))["calls"]
            assert sum(1 for c in calls if c["operation"] == "submit") == 1
            await service.queues.resume("provider", "fal")
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            assert status == "succeeded", group.log("w1")
    assert (await emulator.ledger("fal"))["providers"]["fal"]["billed"] == 2
