"""SQLite's writers of one process take turns, first come first served, and wait as long as
it takes: a burst of concurrent writes never ends in "database is locked", whatever the busy
timeout (left to writers of other processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reelforge.catalog import Catalog, create_engine, upgrade_database
from reelforge.catalog.db import write_turn
from reelforge.catalog.repositories import NewJob

WRITERS = 40


async def test_a_burst_of_writers_is_waited_out_not_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"
    await upgrade_database(url)
    # No busy timeout at all: before taking turns, the second writer failed at once.
    async with Catalog(create_engine(url, busy_timeout_s=0.0)) as catalog:

        async def write(index: int) -> str:
            run = await catalog.runs.create(feature="burst", input={"index": index})
            job = NewJob(provider="local", model="m", capability="text_to_image", request={})
            await catalog.jobs.create_many([job], run_id=run.id)
            await catalog.runs.set_status(run.id, "running")
            return run.id

        run_ids = await asyncio.gather(*(write(index) for index in range(WRITERS)))
        runs = await catalog.runs.list(feature="burst", limit=100)

    assert len(set(run_ids)) == WRITERS
    assert sorted(run.id for run in runs) == sorted(run_ids)
    assert {run.status for run in runs} == {"running"}


async def test_a_write_inside_a_write_of_the_same_task_is_not_held_up(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"
    await upgrade_database(url)
    async with Catalog(create_engine(url)) as catalog:
        async with asyncio.timeout(10), write_turn(catalog.sessions):
            # The turn is this task's: a repository write inside it goes ahead.
            run = await catalog.runs.create(feature="nested", input={})
        assert (await catalog.runs.get(run.id)).feature == "nested"
