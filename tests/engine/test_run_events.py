"""Run events: appended in this process, they wake this process's readers at once, so a wait
for completion does not depend on its fallback poll (set to a minute here)."""

from __future__ import annotations

import asyncio

from fixtures.database import blank_database_url, catalog, database_backend, database_url
from reelforge.catalog import Catalog
from reelforge.engine.events import RunEvents

__all__ = ["blank_database_url", "catalog", "database_backend", "database_url"]


async def test_completion_appended_here_ends_the_wait_without_a_poll(catalog: Catalog) -> None:
    run = await catalog.runs.create(feature="keyframes", input={})
    events = RunEvents(catalog, poll_s=60.0, completion_poll_s=60.0)
    waiting = asyncio.create_task(events.wait_completed(run.id))
    await events.append(run.id, "started", {}, key="started")
    await asyncio.sleep(0)
    assert not waiting.done()
    await events.append(run.id, "completed", {"status": "succeeded"}, key="completed")
    async with asyncio.timeout(10):
        await waiting


async def test_a_run_completed_before_the_wait_returns_at_once(catalog: Catalog) -> None:
    run = await catalog.runs.create(feature="keyframes", input={})
    writer = RunEvents(catalog, poll_s=60.0)
    await writer.append(run.id, "completed", {"status": "failed"}, key="completed")
    reader = RunEvents(catalog, poll_s=60.0, completion_poll_s=60.0)
    async with asyncio.timeout(10):
        await reader.wait_completed(run.id)
