"""What every repository shares: transactions, the clock, and the one table of foreign errors.

Each public repository method runs in exactly one transaction. Writers announce themselves so
that SQLite takes its write lock at ``BEGIN`` (see :mod:`reelforge.catalog.db`); on PostgreSQL,
read-modify-write methods lock the row they change with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reelforge.catalog.checkout import busy, checkout_turn
from reelforge.catalog.db import WRITE_INTENT, write_turn
from reelforge.errors import Conflict, InvalidInput, NotFound, ReelforgeError, StorageError

if TYPE_CHECKING:
    from reelforge.catalog.catalog import Catalog

__all__ = ["Clock", "Repository", "in_stream_order", "translate_error", "utc_now"]

T = TypeVar("T")
Clock = Callable[[], datetime]

# Keys that hold credentials. Stored documents (job requests, provider options) must not carry
# them: keys live in the environment and are named by ProviderConfig.credential_env.
_SECRET_KEYS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "auth_token",
        "authorization",
        "bearer",
        "client_secret",
        "passwd",
        "password",
        "refresh_token",
        "secret",
        "secret_key",
        "token",
        "x_api_key",
    }
)
_UNIQUE, _FOREIGN_KEY, _NOT_NULL, _CHECK = "23505", "23503", "23502", "23514"
_SQLITE_MESSAGES = {
    "UNIQUE constraint failed": _UNIQUE,
    "FOREIGN KEY constraint failed": _FOREIGN_KEY,
    "NOT NULL constraint failed": _NOT_NULL,
    "CHECK constraint failed": _CHECK,
}
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str):
        return state
    text = str(exc.orig)
    return next((code for prefix, code in _SQLITE_MESSAGES.items() if prefix in text), None)


def translate_error(exc: BaseException) -> ReelforgeError:
    """Map a driver or SQLAlchemy error onto the Reelforge error tree."""
    if isinstance(exc, IntegrityError):
        state = _sqlstate(exc)
        if state == _FOREIGN_KEY:
            return NotFound("A referenced catalog row does not exist.")
        if state in (_NOT_NULL, _CHECK):
            return InvalidInput("A value is missing or outside its allowed set.")
        return Conflict("A catalog row with the same identity already exists.")
    if isinstance(exc, DataError):
        return InvalidInput("A value does not fit its catalog column.")
    if (
        isinstance(exc, StatementError)
        and not isinstance(exc, DBAPIError)
        and isinstance(exc.orig, (TypeError, ValueError))
    ):
        return InvalidInput(f"A value cannot be stored: {exc.orig}")
    if isinstance(exc, PoolTimeout):  # a transaction nested in another, past the pool's bound
        return busy()
    return StorageError("The catalog database failed.", details={"error": type(exc).__name__})


class Repository:
    """Base of the catalog's repositories: a session factory and a clock, nothing global."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, clock: Clock = utc_now
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    @classmethod
    def on(cls, catalog: Catalog) -> Self:
        """One on ``catalog``'s database and clock: how a feature builds its own repository
        (the catalog knows only the core's)."""
        return cls(catalog.sessions, clock=catalog.clock)

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the catalog clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        # A turn for one of the pool's connections, in order (see catalog.checkout).
        async with checkout_turn(self._sessions):
            try:
                async with self._sessions.begin() as session:
                    yield session
            except (SQLAlchemyError, OSError) as exc:
                raise translate_error(exc) from exc

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        # SQLite: this process's writers take turns, in order, before they take a connection
        # (the one kept for the writer); PostgreSQL: a checkout turn, as a read takes.
        async with write_turn(self._sessions) as one_writer_at_a_time:
            checkout = nullcontext() if one_writer_at_a_time else checkout_turn(self._sessions)
            async with checkout:
                try:
                    async with self._sessions.begin() as session:
                        await session.connection(execution_options={WRITE_INTENT: True})
                        yield session
                except (SQLAlchemyError, OSError) as exc:
                    raise translate_error(exc) from exc


async def in_stream_order(session: AsyncSession, stream: str) -> None:
    """Make the rows this transaction appends to ``stream`` become visible in the order of
    their ids; call it before the insert.

    Readers follow a stream (a run's events, a session's announcements) by growing id. SQLite
    runs one writer at a time, so ids are committed in order; PostgreSQL takes an id from its
    sequence at insert and the transactions may commit the other way round, so a reader that
    saw 132 would skip 131 for good. A transaction-scoped advisory lock per stream, held to
    the commit, makes its writers take turns (a hash collision only makes two streams share
    turns). The lock is taken last, just before the insert: its holder never waits for a row."""
    if (await session.connection()).dialect.name != "postgresql":
        return
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:stream, 0))"), {"stream": stream}
    )


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], *, attempts: int = 25) -> T:
    """Run ``attempt`` (one whole transaction) again when it lost a race on a unique key."""
    for _ in range(attempts - 1):
        try:
            return await attempt()
        except Conflict:
            continue
    return await attempt()


def check_choice(value: str, choices: tuple[str, ...], field: str) -> None:
    if value not in choices:
        raise InvalidInput(
            f"{field} must be one of {', '.join(choices)}; got {value!r}.",
            details={"field": field, "allowed": list(choices)},
        )


def check_name(value: str, field: str, *, max_length: int) -> None:
    """Identifiers such as provider, model and template names: short, printable, no spaces."""
    if not _NAME_PATTERN.match(value) or len(value) > max_length:
        raise InvalidInput(
            f"{field} must be 1-{max_length} characters of letters, digits and ._:/@+-",
            details={"field": field},
        )


def json_document(
    value: Mapping[str, Any], field: str, *, allow_secrets: bool = True
) -> dict[str, Any]:
    """A detached copy of ``value`` that both backends store alike, or InvalidInput."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be a JSON object.", details={"field": field})
    try:
        copy: dict[str, Any] = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} is not valid JSON: {exc}", details={"field": field}) from None
    if not allow_secrets:
        path = _find_secret(copy, field)
        if path is not None:
            raise InvalidInput(
                f"{path} looks like a credential; store credentials in the environment and name "
                "the variable instead.",
                details={"field": path},
            )
    return copy


def _find_secret(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower().replace("-", "_") in _SECRET_KEYS:
                return f"{path}.{key}"
            found = _find_secret(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_secret(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


MAX_PAGE = 1000


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(
            f"limit must be 1-{MAX_PAGE} and offset at least 0; got {limit}, {offset}.",
            details={"limit": limit, "offset": offset},
        )
