"""Run progress events: written to the catalog, read by growing id, in any process.

The vocabulary (``kind``) is closed: ``queued`` (the run was accepted; ``jobs``: how many),
``started`` (a worker began driving it), ``job_started`` (submitted to the provider, per
attempt), ``job_retrying``, ``job_pending`` (past its wait cap, still alive),
``job_succeeded`` / ``job_failed`` / ``job_canceled``, and ``completed`` (the run's final
``status`` and counts). Consumers (SSE, CLI progress bars, ``wait_for_run``) read the events
after the last id they saw; a key per event makes a step that runs twice report once.

Events appended in this process wake this process's readers at once; readers in other
processes (PostgreSQL mode) see them at the next poll, every ``engine.events_poll_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from reelforge.catalog import Catalog
from reelforge.catalog.records import RunEventKind, RunEventRecord

__all__ = ["RunEvents"]


class RunEvents:
    """Appends and follows run events; one per engine process."""

    def __init__(self, catalog: Catalog, *, poll_s: float) -> None:
        self._catalog = catalog
        self._poll_s = poll_s
        self._waiters: dict[str, set[asyncio.Event]] = {}

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
        for waiter in self._waiters.get(run_id, ()):
            waiter.set()
        return record

    async def after(self, run_id: str, after_id: int = 0) -> list[RunEventRecord]:
        return await self._catalog.run_events.after(run_id, after_id)

    async def follow(
        self, run_id: str, after_id: int = 0, *, until_completed: bool = True
    ) -> AsyncIterator[RunEventRecord]:
        """Yield the run's events after ``after_id`` as they come, ending after ``completed``
        (or never, with ``until_completed=False``: the caller stops iterating)."""
        woken = asyncio.Event()
        self._waiters.setdefault(run_id, set()).add(woken)
        try:
            while True:
                woken.clear()
                for event in await self._catalog.run_events.after(run_id, after_id):
                    after_id = event.id
                    yield event
                    if until_completed and event.kind == "completed":
                        return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self._poll_s)
        finally:
            waiters = self._waiters.get(run_id)
            if waiters is not None:
                waiters.discard(woken)
                if not waiters:
                    del self._waiters[run_id]
