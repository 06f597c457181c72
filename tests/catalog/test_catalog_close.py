"""Disposing a catalog closes every connection it opened, whatever is still running.

A connection the pool loses track of is found only by the garbage collector, which can only
warn (a ``ResourceWarning`` from aiosqlite or asyncpg) in whatever code happens to run then.
Each test collects garbage itself and looks for that warning.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from sqlalchemy import text

from reelforge.catalog import Catalog
from reelforge.errors import NotFound, StorageError


@contextmanager
def no_connection_left_to_the_collector() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []


@asynccontextmanager
async def session_held(catalog: Catalog) -> AsyncIterator[asyncio.Event]:
    """A task holds a session (and its connection) until the yielded event is set; it then
    runs one more statement."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> int:
        async with catalog.sessions.begin() as session:
            await session.execute(text("SELECT 1"))
            holding.set()
            await release.wait()
            return int(await session.scalar(text("SELECT 2")) or 0)

    task = asyncio.create_task(hold())
    await holding.wait()
    try:
        yield release
    finally:
        release.set()
        assert await task == 2


async def test_dispose_lets_an_open_session_finish_then_closes_it(database_url: str) -> None:
    with no_connection_left_to_the_collector():
        catalog = Catalog.from_url(database_url, close_grace_s=10)
        async with session_held(catalog) as release:
            disposing = asyncio.create_task(catalog.dispose())
            await asyncio.sleep(0.2)
            assert not disposing.done()
            release.set()
            await asyncio.wait_for(disposing, 5)


async def test_a_session_open_past_the_grace_is_closed_when_it_ends(database_url: str) -> None:
    with no_connection_left_to_the_collector():
        catalog = Catalog.from_url(database_url, close_grace_s=0.05)
        async with session_held(catalog):
            await asyncio.wait_for(catalog.dispose(), 5)


async def test_a_disposed_catalog_refuses_new_sessions(database_url: str) -> None:
    with no_connection_left_to_the_collector():
        catalog = Catalog.from_url(database_url)
        with pytest.raises(NotFound):
            await catalog.runs.get("nope")
        await catalog.dispose()
        with pytest.raises(StorageError, match="closed"):
            await catalog.runs.get("nope")
        await catalog.dispose()
