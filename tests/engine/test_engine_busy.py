"""A busy engine database is waited out, never turned into a lost call: a call that meets a
locked SQLite database (or a full pool, or a PostgreSQL lock conflict) is made again until the
lock goes; past the wait it fails as ENGINE_BUSY (503, retryable); other errors fail at once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from reelforge.engine.busy import EngineBusy, engine_call, is_lock_error
from reelforge.errors import StorageError


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[sa.Engine, sqlite3.Connection]]:
    """An engine that never waits on SQLite's own busy handler, and a second connection to
    hold the file's write lock."""
    path = tmp_path / "engine.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE steps (id INTEGER PRIMARY KEY)")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    yield engine, holder
    engine.dispose()
    holder.close()


def _write(engine: sa.Engine) -> int:
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO steps DEFAULT VALUES"))
        return int(connection.execute(sa.text("SELECT count(*) FROM steps")).scalar_one())


async def test_a_locked_database_is_waited_out(
    database: tuple[sa.Engine, sqlite3.Connection],
) -> None:
    engine, holder = database
    holder.execute("BEGIN IMMEDIATE")

    async def release_later() -> None:
        await asyncio.sleep(0.5)
        holder.execute("COMMIT")

    releasing = asyncio.create_task(release_later())
    written = await engine_call(lambda: asyncio.to_thread(_write, engine))
    await releasing
    assert written == 1


async def test_a_lock_held_past_the_wait_is_engine_busy(
    database: tuple[sa.Engine, sqlite3.Connection],
) -> None:
    engine, holder = database
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(EngineBusy) as busy:
            await engine_call(lambda: asyncio.to_thread(_write, engine), wait_s=0.3)
    finally:
        holder.execute("ROLLBACK")
    assert (busy.value.code, busy.value.http_status, busy.value.retryable) == (
        "ENGINE_BUSY",
        503,
        True,
    )
    assert busy.value.retry_after is not None
    assert isinstance(busy.value, StorageError)


async def test_other_errors_fail_at_once(database: tuple[sa.Engine, sqlite3.Connection]) -> None:
    engine, _holder = database
    calls = 0

    def broken() -> None:
        nonlocal calls
        calls += 1
        with engine.begin() as connection:
            connection.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(StorageError) as failed:
        await engine_call(lambda: asyncio.to_thread(broken))
    assert not isinstance(failed.value, EngineBusy)
    assert calls == 1


def test_what_counts_as_busy() -> None:
    class PgError(Exception):
        sqlstate = "40P01"  # deadlock detected

    wrapped = sa.exc.OperationalError("UPDATE x", {}, PgError("deadlock"))
    assert is_lock_error(wrapped)
    assert is_lock_error(sa.exc.TimeoutError("QueuePool limit reached"))
    assert is_lock_error(sqlite3.OperationalError("database is locked"))
    assert not is_lock_error(sqlite3.OperationalError("no such table: x"))
