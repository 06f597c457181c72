"""The engine's database errors: translated into Reelforge's tree, and a busy database waited out.

A call into DBOS can fail because its database is busy rather than broken: SQLite's one writer
held past the busy timeout (a burst of work on a loaded machine), a PostgreSQL lock, deadlock or
serialization conflict, no pooled connection free in time. :func:`engine_call` makes such a call
again, with backoff, for up to :data:`LOCK_WAIT_S`, so a lock never turns into a lost start;
only then does it fail, as :class:`EngineBusy` (503, retryable: nothing was started or lost).
Every call made through it must be idempotent (a workflow's id comes from its run, a message
has its key). Other errors are translated at once (:func:`translate_engine_error`).

Inside a workflow's steps the catalog and the store fail as :class:`StorageError` (a lock held
past the driver's busy timeout, a disk or network error). :class:`SteadyOperations` makes each
step's work (:class:`~reelforge.engine.operations.JobOperations`, idempotent by design) again
after such a failure, :data:`STEP_ATTEMPTS` times in all with backoff; what still fails reaches
the workflow, which ends the job ``failed`` with it (:mod:`reelforge.engine.workflows`).
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
import stamina
from dbos import error as dbos_error
from sqlalchemy.exc import SQLAlchemyError

from reelforge.engine.sqlite_support import dbapi
from reelforge.errors import (
    CatalogBusy,
    ConfigurationError,
    NotFound,
    ReelforgeError,
    StorageError,
)
from reelforge.log import get_logger

__all__ = [
    "LOCK_WAIT_S",
    "STEP_ATTEMPTS",
    "EngineBusy",
    "SteadyOperations",
    "engine_call",
    "is_lock_error",
    "is_storage_fault",
    "translate_engine_error",
]

log = get_logger(__name__)

T = TypeVar("T")

#: How long a call into the engine waits out a busy database before it fails.
LOCK_WAIT_S = 300.0
#: How many times a step's work is made when the catalog or the store fails it (the first try
#: included), 0.2 s apart and doubling (at most 2 s).
STEP_ATTEMPTS = 4
# SQLSTATEs of PostgreSQL's transient conflicts: serialization failure, deadlock, lock timeout.
_PG_CONFLICTS = frozenset({"40001", "40P01", "55P03"})
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


class EngineBusy(StorageError):
    """The job engine's database stayed busy (locked) for :data:`LOCK_WAIT_S`: nothing was
    started or lost; try again."""

    code = "ENGINE_BUSY"
    http_status = 503
    retryable = True


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database is busy, not broken."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, sa.exc.TimeoutError):  # no pooled connection free in time
            return True
        original = getattr(seen, "orig", None)
        text = str(original if original is not None else seen)
        if any(busy in text for busy in _SQLITE_BUSY):
            return True
        state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
        if state in _PG_CONFLICTS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def translate_engine_error(exc: BaseException, *, waited_s: float = 0.0) -> ReelforgeError:
    """DBOS's and its driver's errors in Reelforge's tree (``waited_s``: how long a busy
    database was waited out first)."""
    if isinstance(exc, ReelforgeError):
        return exc
    if isinstance(exc, dbos_error.DBOSNonExistentWorkflowError):
        return NotFound("No such workflow in the engine.", details={"error": type(exc).__name__})
    if isinstance(exc, dbos_error.DBOSInitializationError):
        return ConfigurationError(f"The job engine could not start: {exc}")
    if is_lock_error(exc):
        return EngineBusy(
            "The job engine's database stayed busy; nothing was started, try again.",
            details={"error": type(exc).__name__, "waited_s": waited_s},
            retry_after=5.0,
        )
    return StorageError("The job engine failed.", details={"error": type(exc).__name__})


_ENGINE_ERRORS = (dbos_error.DBOSException, SQLAlchemyError, sqlite3.Error, dbapi.Error, OSError)


def _worth_waiting(exc: Exception) -> bool:
    return isinstance(exc, _ENGINE_ERRORS) and is_lock_error(exc)


async def engine_call(call: Callable[[], Awaitable[T]], *, wait_s: float = LOCK_WAIT_S) -> T:
    """``call()``, made again while the engine's database is busy, for up to ``wait_s`` (see
    the module docstring); ``call`` makes a new awaitable each time, inside whatever DBOS
    context it needs."""

    @stamina.retry(
        on=_worth_waiting, attempts=None, timeout=wait_s, wait_initial=0.05, wait_max=2.0
    )
    async def attempt() -> T:
        try:
            return await call()
        except _ENGINE_ERRORS as exc:
            if is_lock_error(exc):
                log.warning("engine.database_busy", error=type(exc).__name__)
            raise

    try:
        return await attempt()
    except _ENGINE_ERRORS as exc:
        raise translate_engine_error(exc, waited_s=wait_s) from exc


def is_storage_fault(exc: Exception) -> bool:
    """A storage failure worth a step's work again: not :class:`EngineBusy`, which has waited
    out its lock for :data:`LOCK_WAIT_S` already, nor :class:`CatalogBusy`, which is waited out
    on its own (:func:`_steadily`)."""
    return isinstance(exc, StorageError) and not isinstance(exc, EngineBusy | CatalogBusy)


class SteadyOperations:
    """The coroutine methods of ``operations``, each made again after a storage failure (see
    the module docstring); anything else of it, as it is."""

    def __init__(self, operations: object) -> None:
        self._operations = operations

    def __getattr__(self, name: str) -> Any:
        member = getattr(self._operations, name)
        if not inspect.iscoroutinefunction(member):
            return member

        @functools.wraps(member)
        async def steady(*args: Any, **kwargs: Any) -> Any:
            return await _steadily(name, lambda: member(*args, **kwargs))

        return steady


async def _steadily(name: str, call: Callable[[], Awaitable[T]]) -> T:
    # A busy catalog (every connection taken by a crowd of reads, say) is waited out like a
    # lock, for as long: it is load, not a fault, and must not end paid work.
    @stamina.retry(on=CatalogBusy, attempts=None, timeout=LOCK_WAIT_S, wait_max=2.0)
    async def waiting_out_busy() -> T:
        return await call()

    @stamina.retry(
        on=is_storage_fault,
        attempts=STEP_ATTEMPTS,
        timeout=None,
        wait_initial=0.2,
        wait_max=2.0,
    )
    async def attempt() -> T:
        try:
            return await waiting_out_busy()
        except StorageError as exc:
            log.warning(
                "engine.step_storage_failed",
                step=name,
                code=exc.code,
                error=exc.details.get("error"),
            )
            raise

    return await attempt()
