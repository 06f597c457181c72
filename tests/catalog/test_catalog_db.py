from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from reelforge.catalog import create_engine
from reelforge.catalog.db import WRITE_INTENT, normalize_url
from reelforge.errors import ConfigurationError


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///data/reelforge.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///data/reelforge.db", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:", "not a url"],
)
def test_unsupported_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        create_engine(url)


async def test_sqlite_engine_creates_its_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "reelforge.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_s=7)
    try:
        assert path.parent.is_dir()
        async with engine.connect() as connection:
            foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
            journal = await connection.scalar(text("PRAGMA journal_mode"))
            busy = await connection.scalar(text("PRAGMA busy_timeout"))
    finally:
        await engine.dispose()
    assert (foreign_keys, journal, busy) == (1, "wal", 7000)


async def test_postgres_engine_connects(database_url: str, database_backend: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
            assert connection.dialect.name == database_backend
    finally:
        await engine.dispose()


async def test_sqlite_statements_report_rows_counts_and_errors(tmp_path: Path) -> None:
    # The SQLite engine fetches each statement's results in one trip (catalog.sqlite_driver).
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trip.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            inserted = await connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
            assert inserted.lastrowid == 1
            await connection.execute(
                text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}]
            )
            updated = await connection.execute(text("UPDATE t SET v = 'z' WHERE id > 1"))
            assert updated.rowcount == 2
            rows = await connection.execute(text("SELECT id, v FROM t ORDER BY id"))
            assert list(rows.keys()) == ["id", "v"]
            assert [tuple(row) for row in rows] == [(1, "a"), (2, "z"), (3, "z")]
            returned = await connection.execute(text("DELETE FROM t WHERE id = 3 RETURNING v"))
            assert returned.scalar_one() == "z"
        async with engine.connect() as connection:
            with pytest.raises(OperationalError):
                await connection.execute(text("SELECT * FROM missing"))
            assert await connection.scalar(text("SELECT count(*) FROM t")) == 2
    finally:
        await engine.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls each SQLite connection sends to its thread, by name, as they happen."""
    sent: list[str] = []
    original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute  # untyped there

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", "call"))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


async def test_sqlite_transactions_cost_a_trip_per_statement_and_one_to_commit(
    tmp_path: Path, trips: list[str]
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        trips.clear()
        async with engine.connect() as connection:
            await connection.execution_options(**{WRITE_INTENT: True})
            async with connection.begin():
                await connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
                await connection.execute(text("UPDATE t SET v = 'b'"))
        # BEGIN IMMEDIATE rides with the insert; no ping before, no rollback after the commit.
        assert trips == ["_run", "_run", "commit"]
        trips.clear()
        async with engine.begin() as connection:
            assert await connection.scalar(text("SELECT v FROM t")) == "b"
        assert trips == ["_run", "commit"]
        trips.clear()
        async with engine.begin():
            pass
        assert trips == []
    finally:
        await engine.dispose()


async def test_sqlite_write_lock_is_held_from_the_first_statement(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}"
    first, second = create_engine(url), create_engine(url, busy_timeout_s=0.2)
    try:
        async with first.begin() as connection:
            await connection.execute(text("CREATE TABLE t (v TEXT)"))
        async with first.connect() as holder:
            await holder.execution_options(**{WRITE_INTENT: True})
            async with holder.begin():
                await holder.execute(text("SELECT count(*) FROM t"))
                async with second.connect() as other:
                    await other.execution_options(**{WRITE_INTENT: True})
                    with pytest.raises(OperationalError, match="locked"):
                        async with other.begin():
                            await other.execute(text("SELECT 1"))
        async with second.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES ('after')"))
    finally:
        await first.dispose()
        await second.dispose()


async def test_sqlite_failed_transactions_roll_back_before_the_connection_is_reused(
    tmp_path: Path,
) -> None:
    # One pooled connection: the next transaction gets the one the failure happened on.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reuse.db'}", pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (v TEXT UNIQUE)"))

        async def insert_twice() -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES ('a')"))
                await connection.execute(text("INSERT INTO t VALUES ('a')"))

        async def give_up() -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES ('b')"))
                raise RuntimeError("the caller gives up")

        with pytest.raises(IntegrityError):
            await insert_twice()
        with pytest.raises(RuntimeError):
            await give_up()
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES ('c')"))
            values = (await connection.execute(text("SELECT v FROM t"))).scalars().all()
        assert values == ["c"]
    finally:
        await engine.dispose()
