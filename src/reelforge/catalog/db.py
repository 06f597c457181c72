"""Engines and sessions for the catalog: SQLite (the default) or PostgreSQL, always async.

SQLite gets foreign keys, a WAL journal and a busy timeout on every connection. SQLAlchemy emits
``BEGIN`` itself (pysqlite's own transaction handling is turned off), so a transaction marked
with :data:`WRITE_INTENT` starts as ``BEGIN IMMEDIATE``: it takes SQLite's single write lock up
front, and a read-then-write transaction can never fail half-way on a stale snapshot.

SQLite has one writer, and its busy handler is no queue: a waiting writer polls, and under a
steady stream of writes (a burst of jobs) one can lose every race until its busy timeout ends
in "database is locked", and the job engine's step that wrote it with it. So the write
transactions of one process take turns before they take a connection (:func:`write_turn`),
first come first served, and wait as long as it takes; the busy timeout is left to writers of
other processes (the CLI beside a server). PostgreSQL queues lock waiters itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from reelforge.catalog.checkout import register_checkout_turns
from reelforge.catalog.sqlite_driver import defer_begin, one_trip_dbapi
from reelforge.errors import ConfigurationError

__all__ = [
    "WRITE_INTENT",
    "create_engine",
    "create_session_factory",
    "normalize_url",
    "write_turn",
]

#: A PostgreSQL connection idle in the pool this long is checked before use (see
#: :func:`_ping_after_idle`).
PING_AFTER_IDLE_S = 5.0
_IDLE_SINCE = "reelforge_idle_since"

WRITE_INTENT = "reelforge_write_intent"
"""Connection execution option: this transaction will write (SQLite: ``BEGIN IMMEDIATE``)."""

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalize_url(url: str) -> URL:
    """Parse ``url`` and pick the async driver (``sqlite://`` and ``postgresql://`` are accepted).

    Raises :class:`ConfigurationError` for other databases, bad URLs and in-memory SQLite (each
    pooled connection would see its own empty database).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"Not a database URL: {exc}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigurationError(
            f"Unsupported database {parsed.drivername!r}: use sqlite+aiosqlite:///path/to/file.db "
            "or postgresql+asyncpg://user@host/db.",
            details={"driver": parsed.drivername},
        )
    parsed = parsed.set(drivername=driver)
    if driver.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
        raise ConfigurationError(
            "The catalog needs a SQLite file (sqlite+aiosqlite:///path/to/file.db), not memory."
        )
    return parsed


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 5,
    pool_timeout_s: float = 10.0,
    busy_timeout_s: float = 30.0,
    echo: bool = False,
) -> AsyncEngine:
    """An async engine for ``url``; for SQLite, the file's folder is created if missing.

    Its transactions take turns for the pool's ``pool_size`` connections, fairly, and one that
    waits past ``pool_timeout_s`` fails as ``CatalogBusy`` (see :mod:`reelforge.catalog.checkout`);
    the ``max_overflow`` connections beyond them serve only a transaction opened inside another
    (which takes no turn)."""
    parsed = normalize_url(url)
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout_s,
        # SQLite: a local file has no connection to lose. PostgreSQL: pinged after idling.
        "pool_pre_ping": False,
        "echo": echo,
    }
    if parsed.drivername.startswith("sqlite"):
        database = str(parsed.database)
        if not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": busy_timeout_s}
        # One trip to the connection's thread per statement: see sqlite_driver.
        options["module"] = one_trip_dbapi()
        # One connection more than the turns: the writer's. SQLite's writers already take
        # turns, one at a time (write_turn), so the one writing takes no checkout turn too,
        # and never waits behind a crowd of reads with the write lock in hand.
        options["pool_size"] = pool_size + 1
        engine = _create_async_engine(parsed, **options)
        _configure_sqlite(engine, busy_timeout_s)
        _SQLITE_TURNS[engine.sync_engine] = _WriteTurns()
    else:
        # Recycle before typical server/proxy idle timeouts cut a pooled connection.
        options["pool_recycle"] = 1800
        engine = _create_async_engine(parsed, **options)
        _ping_after_idle(engine, PING_AFTER_IDLE_S)
    register_checkout_turns(engine, pool_size, pool_timeout_s)
    return engine


def _ping_after_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Check a pooled PostgreSQL connection before use only when it sat in the pool for
    ``idle_s`` or more: long enough for a server restart or a proxy to have cut it unnoticed.
    SQLAlchemy's ``pool_pre_ping`` checks on every checkout, and asyncpg's check is three round
    trips (BEGIN, an empty query, ROLLBACK): more than a whole read of a run costs. A connection
    that fails the check is replaced (``DisconnectionError``); one cut while in steady use fails
    its statement, and the pool then drops every connection of that server generation."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return  # just connected, or in use moments ago
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("the pooled connection did not answer") from exc


def _configure_sqlite(engine: AsyncEngine, busy_timeout_s: float) -> None:
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            _enable_wal(cursor, busy_timeout_s)
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_INTENT, False)
        # Sent with the transaction's first statement, in the same trip (see sqlite_driver).
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        defer_begin(connection.connection.dbapi_connection, begin)


def _enable_wal(cursor: Any, busy_timeout_s: float) -> None:
    """Switch a database to WAL. On a brand-new file that several connections open at once,
    the switch can fail at once with "database is locked" (SQLite's busy handler does not cover
    it): retry until the busy timeout. Once the file is in WAL mode, this is a no-op."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


class _WriteTurns:
    """One process's writers of one SQLite database, in the order they came (per event loop:
    an asyncio lock belongs to one)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[bool]:
        held = _TURNS_HELD.get()
        if id(self) in held:
            # A write inside a write of the same task: SQLite's busy handler decides, as before.
            yield True
            return
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:  # asyncio's lock wakes its waiters first come, first served
            token = _TURNS_HELD.set(held | {id(self)})
            try:
                yield True
            finally:
                _TURNS_HELD.reset(token)


_TURNS_HELD: ContextVar[frozenset[int]] = ContextVar("reelforge_write_turns", default=frozenset())
_SQLITE_TURNS: weakref.WeakKeyDictionary[Engine, _WriteTurns] = weakref.WeakKeyDictionary()


def write_turn(
    sessions: async_sessionmaker[AsyncSession],
) -> contextlib.AbstractAsyncContextManager[bool]:
    """Wait for this process's turn to write with ``sessions`` (SQLite; on PostgreSQL, at
    once): enter it before the write transaction begins. It gives whether writers take turns
    here (SQLite): then the writer has a pooled connection of its own and takes no checkout
    turn."""
    bind = sessions.kw.get("bind")
    turns = _SQLITE_TURNS.get(bind.sync_engine) if isinstance(bind, AsyncEngine) else None
    return turns.turn() if turns is not None else contextlib.nullcontext(False)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (repositories copy them into records)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
