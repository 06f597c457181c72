"""PostgreSQL: a pooled connection is checked before use only after it sat idle, and one that
the server cut meanwhile is replaced, not handed to a read that then fails."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from fixtures.database import DEFAULT_ADMIN_URL, postgres_database
from reelforge.catalog import Catalog, db, upgrade_database
from reelforge.errors import StorageError

pytestmark = pytest.mark.postgres


async def _cut_every_connection_to(url: str) -> int:
    """Terminate, server-side, every backend connected to ``url``'s database; how many."""
    name = url.rsplit("/", 1)[1]
    admin = create_async_engine(DEFAULT_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            cut = await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            return len(cut.all())
    finally:
        await admin.dispose()


async def test_a_connection_cut_while_idle_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # any time in the pool counts as idle
    async with postgres_database() as url:
        await upgrade_database(url)
        async with Catalog.from_url(url, pool_size=1) as catalog:
            run = await catalog.runs.create(feature="keyframes", input={})
            assert await _cut_every_connection_to(url) >= 1

            assert (await catalog.runs.get(run.id)).id == run.id


async def test_a_connection_in_steady_use_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    async with postgres_database() as url:
        await upgrade_database(url)
        async with Catalog.from_url(url, pool_size=1) as catalog:
            run = await catalog.runs.create(feature="keyframes", input={})
            assert await _cut_every_connection_to(url) >= 1

            # Not checked: the read meets the cut connection, fails once, and the pool starts
            # afresh.
            with pytest.raises(StorageError):
                await catalog.runs.get(run.id)
            assert (await catalog.runs.get(run.id)).id == run.id
