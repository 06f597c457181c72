"""A job whose feature does not keep its prompt (``JobSpec.keep_prompt=False``, the transform's
default) still sends it after a crash: the engine's durable workflow input never holds it, the
submit step reads it from the job's row while the job is open, and the row forgets it when the
job ends. Two ways to be cut off: ``kill -9`` in the middle of the run (DBOS recovers the
workflows), and a run recorded with its jobs whose workflow never started (the reconciler
starts it from the catalog)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    engine_env,
    engine_settings,
    fal_still,
    open_engine_harness,
    processes,
    submits,
    wait_for_file,
    wait_for_run_end,
    wait_for_submits,
)
from reelforge.catalog import Catalog, upgrade_database
from reelforge.catalog.records import JobRecord
from reelforge.catalog.repositories import NewJob, NewRunEvent
from reelforge.emulator import EmulatorServer
from reelforge.emulator.fal import DUMMY_KEY
from reelforge.emulator.fal_models import app_path
from reelforge.engine.specs import WaitPolicy

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _holds(value: Any, needle: bytes) -> bool:
    if isinstance(value, bytes):
        return needle in value
    if not isinstance(value, str):
        return False
    if needle.decode() in value:
        return True
    try:
        return needle in base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False


def stored_anywhere(database: Path, needle: str) -> list[str]:
    """Every ``table.column`` of an SQLite database holding ``needle`` as text or inside base64
    (how DBOS stores pickled workflow inputs and step results)."""
    found = set()
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                found |= {
                    f"{table}.{name}"
                    for name, value in zip(columns, row, strict=True)
                    if _holds(value, needle.encode())
                }
    return sorted(found)


async def _prompts_fal_received(emulator_url: str, jobs: list[JobRecord]) -> list[str]:
    prompts = []
    async with httpx.AsyncClient(timeout=30) as http:
        for job in jobs:
            url = f"{emulator_url}/fal/queue/{app_path(job.model)}/requests/"
            result = await http.get(
                f"{url}{job.provider_request_id}", headers={"Authorization": f"Key {DUMMY_KEY}"}
            )
            result.raise_for_status()
            prompts.append(str(result.json()["prompt"]))
    return prompts


def _check_forgotten(jobs: list[JobRecord], data_dir: Path) -> None:
    assert all(job.status == "succeeded" for job in jobs)
    assert all(job.prompt is None for job in jobs)
    assert all(job.request["prompt"] == "" for job in jobs)
    for database in ("reelforge.db", "engine.sqlite"):
        assert stored_anywhere(data_dir / database, "a lighthouse at dawn") == [], database


async def test_kill_9_mid_run_still_sends_the_prompts_it_does_not_keep(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    engine = {"executor_id": "crash-host", "queues": {"fal": {"concurrency": 2}}}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    marker = tmp_path / "run_id"
    with processes(tmp_path, engine_env(settings)) as group:
        first = group.runner(
            "first", "--role", "worker", "--start", "4", "--marker", str(marker), "--forget-prompts"
        )
        run_id = await wait_for_file(marker)
        # Killed with 2 generations at the provider and 2 queued.
        await wait_for_submits(emulator, 2, timeout_s=45)
        await asyncio.sleep(0.3)
        group.kill(first)
        assert await submits(emulator) == 2, group.log("first")
        group.worker("second")
        async with Catalog.from_url(settings.effective_database_url) as catalog:
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            jobs = await catalog.jobs.list_for_run(run_id)
        assert status == "succeeded", group.log("second")
    received = await _prompts_fal_received(emulator_server.base_url, jobs)
    assert received == [f"a lighthouse at dawn (f{i})" for i in range(4)]
    assert (await emulator.ledger("fal"))["providers"]["fal"]["calls"]["submit"] == 4
    _check_forgotten(jobs, settings.data_dir)


async def test_a_run_left_without_its_workflow_starts_with_the_prompts_of_its_jobs(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    await upgrade_database(settings.effective_database_url)
    # What start_run records before it starts the run's workflow, as a process that died
    # right there left it (see reelforge.engine.faults: before_enqueue).
    specs = [
        fal_still(f"s{i}", keep_prompt=False, wait=WaitPolicy(poll_interval_s=0.1))
        for i in range(2)
    ]
    async with Catalog.from_url(settings.effective_database_url) as catalog:
        run = await catalog.runs.create(feature="crash-test", input={})
        await catalog.jobs.create_many(
            [
                NewJob("fal", "fal-ai/flux/dev", "text_to_image", spec.model_dump(mode="json"))
                for spec in specs
            ],
            run_id=run.id,
            run_event=NewRunEvent("queued", {"jobs": 2, "priority": "batch"}, key="queued"),
        )
    async with open_engine_harness(settings) as harness:
        catalog = harness.services.catalog
        assert await wait_for_run_end(catalog, run.id, timeout_s=60) == "succeeded"
        jobs = await catalog.jobs.list_for_run(run.id)
    received = await _prompts_fal_received(emulator_server.base_url, jobs)
    assert received == ["a lighthouse at dawn (s0)", "a lighthouse at dawn (s1)"]
    _check_forgotten(jobs, settings.data_dir)
