"""Closing a catalog's engine without stranding a connection.

An async driver's connection can only be closed on the event loop. One that its pool has lost
track of is left to the garbage collector, which cannot close it: it only warns, whenever it
happens to run, and SQLite's file or PostgreSQL's backend stays open until then. A pool loses
track of a connection in two ways:

- the engine is disposed while a session still holds one: the session gives it back to the
  disposed pool, which never closes anything again;
- the engine is used after it was disposed: SQLAlchemy quietly builds a new pool, which
  nothing disposes.

:class:`GracefulClose` closes both: it lets sessions that are open finish (up to a grace
period), closes every connection given back after that, and refuses new connections.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from reelforge.errors import StorageError
from reelforge.log import get_logger

__all__ = ["GracefulClose"]

log = get_logger(__name__)

_CHECK_S = 0.01


class GracefulClose:
    """Hooks ``engine``'s pool so that :meth:`close` leaves no connection open."""

    def __init__(self, engine: AsyncEngine, *, grace_s: float) -> None:
        self._engine = engine
        self._grace_s = grace_s
        self._closed = False
        event.listen(engine.sync_engine, "do_connect", self._refuse_once_closed)
        event.listen(engine.sync_engine, "checkin", self._close_if_late)

    async def close(self) -> None:
        """Wait up to the grace period for the sessions in use, then close every connection.
        Calling it again does nothing."""
        if self._closed:
            return
        deadline = time.monotonic() + self._grace_s
        # Polled: a connection can be given back from any thread (a garbage-collected
        # session's), where an asyncio.Event could not be set.
        while self.in_use() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(_CHECK_S)
        if still_in_use := self.in_use():
            # They are closed as they are given back (see _close_if_late).
            log.warning("catalog.close.sessions_open", sessions=still_in_use, grace_s=self._grace_s)
        self._closed = True
        await self._engine.dispose()

    def in_use(self) -> int:
        """Connections checked out of the pool right now."""
        pool = self._engine.sync_engine.pool
        return pool.checkedout() if isinstance(pool, QueuePool) else 0

    def _refuse_once_closed(self, *_: Any) -> None:
        if self._closed:
            raise StorageError("The catalog is closed.")

    def _close_if_late(self, dbapi_connection: Any, record: Any) -> None:
        if self._closed and dbapi_connection is not None:
            record.invalidate()
