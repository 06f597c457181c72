"""SQLAlchemy's aiosqlite adapter with one trip to the connection's thread per statement.

aiosqlite runs each call on a connection's own thread; SQLAlchemy's adapter makes four such
calls for a statement (open a cursor, execute, fetch, close), and each comes back through the
event loop, behind whatever else is ready to run there. Under a dozen concurrent jobs that
waiting, not SQLite, is most of a write transaction's time, and SQLite's one write lock is held
all along. :class:`OneTripCursor` executes, fetches and closes in one call.

The transaction's edges cost no trip of their own either. ``BEGIN`` is deferred
(:func:`defer_begin`) and runs in the trip of the transaction's first statement; a transaction
that ran no statement needs no ``COMMIT``. Each trip brings back whether SQLite holds a
transaction open, so the rollback that SQLAlchemy's pool sends after every commit, when the
connection goes back to the pool, is skipped when SQLite says there is nothing to roll back.

It builds on aiosqlite's ``_execute`` and ``_conn``, as SQLAlchemy's own adapter builds on its
internals; aiosqlite is pinned.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

__all__ = ["OneTripCursor", "defer_begin", "one_trip_dbapi"]

_Outcome = tuple[Any, list[Any], int, int | None, bool]


def _run(
    connection: sqlite3.Connection, begin: str | None, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """On the connection's thread: the deferred ``BEGIN`` if any, the statement, its rows and
    counts, and whether a transaction is open, the cursor closed."""
    if begin is not None:
        connection.execute(begin)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid, connection.in_transaction
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose results are fetched with the statement."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _trip(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        on_thread: Callable[..., Awaitable[_Outcome]] = connection._execute  # untyped there
        adapt = cast("_OneTripConnection", self._adapt_connection)
        async with adapt._execute_mutex:
            begin, adapt.pending_begin = adapt.pending_begin, None
            adapt.in_transaction = None  # unknown until the trip says
            outcome = await on_thread(_run, connection._conn, begin, operation, parameters, many)
        self._description, rows, self._rowcount, self._lastrowid, adapt.in_transaction = outcome
        self._rows = collections.deque(rows)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """``pending_begin``: the ``BEGIN`` the next statement's trip runs first.
    ``in_transaction``: whether SQLite held a transaction open after the last trip (``None``:
    unknown, as after a failed trip; then a rollback is always sent)."""

    __slots__ = ("in_transaction", "pending_begin")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.pending_begin: str | None = None
        self.in_transaction: bool | None = None

    def commit(self) -> None:
        self._end(super().commit)

    def rollback(self) -> None:
        self._end(super().rollback)

    def _end(self, send: Callable[[], None]) -> None:
        """``send`` the COMMIT or ROLLBACK, unless SQLite said no transaction is open."""
        self.pending_begin = None
        if self.in_transaction is False:
            return
        self.in_transaction = None
        send()
        self.in_transaction = False


class _OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        return _OneTripConnection(self, super().connect(*arg, **kw)._connection)


def defer_begin(dbapi_connection: Any, statement: str) -> None:
    """Have ``statement`` (``BEGIN`` or ``BEGIN IMMEDIATE``) run in the trip of the
    connection's next statement."""
    if not isinstance(dbapi_connection, _OneTripConnection):
        raise TypeError("defer_begin needs a connection from one_trip_dbapi()")
    dbapi_connection.pending_begin = statement


def one_trip_dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The DBAPI for ``create_async_engine(..., module=...)`` with :class:`OneTripCursor`."""
    return _OneTripDBAPI(aiosqlite, sqlite3)
