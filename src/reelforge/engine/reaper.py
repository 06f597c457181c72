"""Heartbeats, and the reaper that finishes a dead worker's work elsewhere.

Open-source DBOS recovers a process's pending workflows only when a process with the *same*
executor id starts again; nothing notices a machine that never comes back. So every process
that runs work:

- claims its executor id at start (refusing one that a live process holds: two processes with
  one id would each recover the other's running work) and beats every ``engine.heartbeat_s``
  into the catalog's ``engine_workers`` table;
- reaps, every heartbeat: an executor that stopped, or has not beaten for
  ``engine.stale_after_s``, and whose work nobody took over since its last beat, is claimed
  with a compare-and-set on that beat (so one reaper wins), and its ``PENDING`` workflows are
  put back on their own queues. Any live worker then picks them up under the queues' limits,
  and the durable steps make sure nothing already done (a paid submit) runs again.

The take-over uses DBOS's own recovery routine, which re-enqueues a workflow only while it is
still pending *under the dead executor*: if that executor restarts at the same moment and
recovers it too, only one of the two takes effect. (``DBOS.resume_workflow`` lacks that
guard, so a race could run a workflow twice.) It is DBOS's internal entry point for Conductor;
the DBOS version is pinned, and a test covers it.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from dbos import DBOS

from reelforge.catalog.repositories import WorkerRepository
from reelforge.errors import ConfigurationError, ReelforgeError
from reelforge.log import get_logger

__all__ = ["Reaper", "claim_executor_id"]

log = get_logger(__name__)


async def claim_executor_id(
    workers: WorkerRepository,
    *,
    executor_id: str,
    incarnation: str,
    role: str,
    app_version: str,
    stale_after_s: float,
    now: Callable[[], datetime],
) -> None:
    """Record this process under ``executor_id``, unless a live process already holds it."""
    host, pid = socket.gethostname()[:255], os.getpid()
    existing = await workers.get(executor_id)
    if (
        existing is not None
        and existing.stopped_at is None
        and existing.beat_at > now() - timedelta(seconds=stale_after_s)
        and (existing.host != host or (existing.pid != pid and _alive(existing.pid)))
    ):
        raise ConfigurationError(
            f"The executor id {executor_id!r} is in use by process {existing.pid} on "
            f"{existing.host!r}. Give every worker process its own stable id: set "
            "engine.executor_id (REELFORGE_ENGINE__EXECUTOR_ID).",
            details={"executor_id": executor_id, "host": existing.host, "pid": existing.pid},
        )
    await workers.start(
        executor_id=executor_id,
        host=host,
        pid=pid,
        incarnation=incarnation,
        role=role,
        app_version=app_version,
    )


class Reaper:
    """This process's heartbeat and its reaping of dead executors, as one background loop."""

    def __init__(
        self,
        workers: WorkerRepository,
        *,
        executor_id: str,
        incarnation: str,
        heartbeat_s: float,
        stale_after_s: float,
        now: Callable[[], datetime],
    ) -> None:
        self._workers = workers
        self._executor_id = executor_id
        self._incarnation = incarnation
        self._heartbeat_s = heartbeat_s
        self._stale_after_s = stale_after_s
        self._now = now

    async def run(self) -> None:
        """Beat and reap until cancelled. A failing database is logged, never fatal."""
        while True:
            try:
                if not await self._workers.beat(self._executor_id, self._incarnation):
                    log.error("engine.heartbeat.superseded", executor_id=self._executor_id)
                await self.reap_once()
            except ReelforgeError as exc:
                log.warning("engine.heartbeat.failed", code=exc.code)
            await asyncio.sleep(self._heartbeat_s)

    async def reap_once(self) -> list[str]:
        """Take over the work of every dead executor nobody took over yet; their ids."""
        stale_before = self._now() - timedelta(seconds=self._stale_after_s)
        taken: list[str] = []
        for worker in await self._workers.unattended(stale_before, exclude=self._executor_id):
            if not await self._workers.claim(
                worker.executor_id, worker.beat_at, reaper=self._executor_id
            ):
                continue
            try:
                count = await asyncio.to_thread(_recover, worker.executor_id)
            except Exception as exc:
                # Anything DBOS raises: give the claim back so the next pass tries again.
                await self._workers.release(worker.executor_id, reaper=self._executor_id)
                log.warning(
                    "engine.reaper.failed",
                    executor_id=worker.executor_id,
                    error=type(exc).__name__,
                )
                continue
            log.info(
                "engine.reaper.took_over",
                executor_id=worker.executor_id,
                workflows=count,
                by=self._executor_id,
            )
            taken.append(worker.executor_id)
        return taken

    async def stop(self) -> None:
        try:
            await self._workers.stop(self._executor_id, self._incarnation)
        except ReelforgeError as exc:
            log.warning("engine.heartbeat.stop_failed", code=exc.code)


def _recover(executor_id: str) -> int:
    return len(DBOS._recover_pending_workflows([executor_id]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
