"""A fair, bounded wait for a catalog connection.

SQLAlchemy's pool gives a connection that comes back to whoever asks for one next, not to whoever
has waited longest: under a crowd of requests one can wait out the pool's whole timeout while
later ones are served, and then fail as a storage error (a 500). So every catalog transaction of
a process first takes its turn here (:func:`checkout_turn`): as many at once as the pool holds
connections, the others in the order they came. One that waits past the bound fails as
:class:`~reelforge.errors.CatalogBusy` (503, with Retry-After): the catalog is busy, not broken,
and nothing was read or written.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextvars import ContextVar

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from reelforge.errors import CatalogBusy

__all__ = ["CheckoutTurns", "busy", "checkout_turn", "register_checkout_turns"]

#: What a client that was told the catalog is busy should wait before it asks again.
RETRY_AFTER_S = 1.0


def busy(waited_s: float | None = None) -> CatalogBusy:
    return CatalogBusy(
        "The catalog is busy: no database connection came free in time; try again.",
        details={} if waited_s is None else {"waited_s": waited_s},
        retry_after=RETRY_AFTER_S,
    )


class CheckoutTurns:
    """``capacity`` transactions of one engine at once, the others first come, first served,
    each waiting at most ``timeout_s`` (per event loop: an asyncio semaphore belongs to one)."""

    def __init__(self, capacity: int, timeout_s: float) -> None:
        if capacity < 1:
            raise ValueError("a catalog pool needs at least one connection")
        self.capacity = capacity
        self.timeout_s = timeout_s
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        held = _HELD.get()
        if id(self) in held:
            # A transaction inside one of the same task: it takes a connection of the pool's
            # overflow, as before, rather than wait for a turn that its own caller holds.
            yield
            return
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(self.capacity)
        # asyncio's semaphore hands a released turn to its first waiter, and makes newcomers
        # queue behind waiters: no one is overtaken.
        try:
            async with asyncio.timeout(self.timeout_s):
                await turns.acquire()
        except TimeoutError:
            raise busy(self.timeout_s) from None
        token = _HELD.set(held | {id(self)})
        try:
            yield
        finally:
            _HELD.reset(token)
            turns.release()


_HELD: ContextVar[frozenset[int]] = ContextVar("reelforge_checkout_turns", default=frozenset())
_TURNS: weakref.WeakKeyDictionary[Engine, CheckoutTurns] = weakref.WeakKeyDictionary()


def register_checkout_turns(engine: AsyncEngine, capacity: int, timeout_s: float) -> None:
    _TURNS[engine.sync_engine] = CheckoutTurns(capacity, timeout_s)


def checkout_turn(
    sessions: async_sessionmaker[AsyncSession],
) -> contextlib.AbstractAsyncContextManager[None]:
    """Wait for a turn to use a connection of ``sessions``' engine (at once where the engine
    was not built by :func:`reelforge.catalog.db.create_engine`)."""
    bind = sessions.kw.get("bind")
    turns = _TURNS.get(bind.sync_engine) if isinstance(bind, AsyncEngine) else None
    return turns.turn() if turns is not None else contextlib.nullcontext()
