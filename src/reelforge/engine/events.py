"""Run progress events: written to the catalog, read by growing id, in any process.

The vocabulary (``kind``) is closed: ``queued`` (the run was accepted; ``jobs``: how many),
``started`` (a worker began driving it), ``job_started`` (submitted to the provider, per
attempt), ``job_retrying``, ``job_pending`` (past its wait cap, still alive),
``job_succeeded`` / ``job_failed`` / ``job_canceled``, ``job_progress`` (a running job's
``progress`` 0-1 and ``percent`` as its provider reports it, with its ``message`` such as "step
3 of 8"; once per whole percent) and ``completed`` (the run's final ``status`` and counts).
Consumers (SSE, CLI progress bars, ``wait_for_run``) read the events after the last id they
saw; a key per event makes a step that runs twice report once.

Events appended in this process wake this process's readers at once; readers in other
processes (PostgreSQL mode) see them at the next poll, every ``engine.events_poll_s``. Where
every run is driven in this process (embedded mode), a run's ``completed`` event is always
appended here, so :meth:`RunEvents.wait_completed` re-reads the catalog only as a slow fallback
(``completion_poll_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from reelforge.catalog import Catalog
from reelforge.catalog.records import RunEventKind, RunEventRecord

__all__ = ["RunEvents"]


class RunEvents:
    """Appends and follows run events; one per engine process."""

    def __init__(
        self, catalog: Catalog, *, poll_s: float, completion_poll_s: float | None = None
    ) -> None:
        self._catalog = catalog
        self._poll_s = poll_s
        self.completion_poll_s = poll_s if completion_poll_s is None else completion_poll_s
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._completion_waiters: dict[str, set[asyncio.Event]] = {}

    async def append(
        self,
        run_id: str,
        kind: RunEventKind,
        payload: Mapping[str, Any] | None = None,
        *,
        job_id: str | None = None,
        key: str | None = None,
    ) -> RunEventRecord:
        record = await self._catalog.run_events.append(
            run_id, kind, payload or {}, job_id=job_id, key=key
        )
        self.wake(run_id, kind)
        return record

    def wake(self, run_id: str, kind: RunEventKind | None = None) -> None:
        """Tell this process's readers of the run that it has new events (appended here, or
        written with another change: ``NewRunEvent``); ``kind`` ``completed`` also wakes
        those waiting for the run's end."""
        _set_all(self._waiters.get(run_id, ()))
        if kind == "completed":
            _set_all(self._completion_waiters.get(run_id, ()))

    async def after(self, run_id: str, after_id: int = 0) -> list[RunEventRecord]:
        return await self._catalog.run_events.after(run_id, after_id)

    async def follow(
        self, run_id: str, after_id: int = 0, *, until_completed: bool = True
    ) -> AsyncIterator[RunEventRecord]:
        """Yield the run's events after ``after_id`` as they come, ending after its last
        ``completed`` (or never, with ``until_completed=False``: the caller stops iterating)."""
        with _registered(self._waiters, run_id) as woken:
            while True:
                woken.clear()
                events = await self._catalog.run_events.after(run_id, after_id)
                for index, event in enumerate(events):
                    after_id = event.id
                    yield event
                    # One with events after it was a retried run's earlier completion.
                    if until_completed and event.kind == "completed" and index == len(events) - 1:
                        return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self._poll_s)

    async def wait_completed(self, run_id: str, after_id: int = 0) -> int:
        """Return once a ``completed`` event of the run after ``after_id`` is written (its id).
        Unlike :meth:`follow`, the other events appended in this process do not wake it (a run
        makes a few per job). A retried run completes once more per retry round."""
        with _registered(self._completion_waiters, run_id) as woken:
            while True:
                woken.clear()
                for event in await self._catalog.run_events.after(run_id, after_id):
                    after_id = event.id
                    if event.kind == "completed":
                        return event.id
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self.completion_poll_s)


def _set_all(waiters: Iterable[asyncio.Event]) -> None:
    for waiter in waiters:
        waiter.set()


@contextlib.contextmanager
def _registered(registry: dict[str, set[asyncio.Event]], run_id: str) -> Iterator[asyncio.Event]:
    woken = asyncio.Event()
    registry.setdefault(run_id, set()).add(woken)
    try:
        yield woken
    finally:
        waiters = registry.get(run_id)
        if waiters is not None:
            waiters.discard(woken)
            if not waiters:
                del registry[run_id]
