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
  and the durable steps make sure nothing already done (a paid submit) runs again;
- starts, every heartbeat, the runs that a crash left recorded but without their workflow
  (:mod:`reelforge.engine.stranded`).

A worker taken for dead that was only slow finds out at its next beat (which fails once its
row is reaped) or at its next fenced write, and stops: :mod:`reelforge.engine.lease`.

The take-over uses DBOS's own recovery routine, which re-enqueues a workflow only while it is
still pending *under the dead executor*: if that executor restarts at the same moment and
recovers it too, only one of the two takes effect. (``DBOS.resume_workflow`` lacks that
guard, so a race could run a workflow twice.) It is DBOS's internal entry point for Conductor;
the DBOS version is pinned, and a test covers it.

That routine logs and swallows a workflow it failed to re-enqueue, so the reaper keeps its
claim only once the executor has no pending workflow of this version left. Otherwise it gives
the claim back and tries again on a later heartbeat, backing off (one heartbeat, doubling, at
most ``stale_after_s``), ``engine.takeover_attempts`` times in all; then it leaves the executor
to another process, or to the executor's own restart. Each attempt claims afresh on the same
beat, so an executor that came back in between is left alone. Workflows of *another* version
cannot run here at all: the reaper names them in the log and leaves the executor to a reaper of
that version (see :mod:`reelforge.engine.versioning` and ``reelforge engine adopt``).
:class:`Recovery` is the seam: :class:`DBOSRecovery` in production.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from dbos import DBOS

from reelforge.catalog.repositories import WorkerRepository
from reelforge.engine.lease import WorkerLease
from reelforge.engine.stranded import StrandedRuns
from reelforge.errors import ConfigurationError, ReelforgeError
from reelforge.log import get_logger

__all__ = ["DBOSRecovery", "PendingWorkflow", "Reaper", "Recovery", "claim_executor_id"]

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


@dataclass(frozen=True, slots=True)
class PendingWorkflow:
    """A workflow still ``PENDING`` under an executor, and the version stamped on it."""

    workflow_id: str
    app_version: str | None


class Recovery(Protocol):
    """Taking an executor's pending workflows over, and seeing what is left of them."""

    async def recover(self, executor_id: str) -> int:
        """Put ``executor_id``'s pending workflows back on their queues; how many it tried."""
        ...

    async def pending(self, executor_id: str) -> list[PendingWorkflow]:
        """The workflows still ``PENDING`` under ``executor_id``."""
        ...


class DBOSRecovery:
    """DBOS's recovery routine (this process's version only), and DBOS's workflow list."""

    async def recover(self, executor_id: str) -> int:
        return await asyncio.to_thread(_recover, executor_id)

    async def pending(self, executor_id: str) -> list[PendingWorkflow]:
        found = await DBOS.list_workflows_async(
            status="PENDING", executor_id=executor_id, load_input=False, load_output=False
        )
        return [PendingWorkflow(w.workflow_id, w.app_version) for w in found]


@dataclass(slots=True)
class _Attempts:
    """A reaper's failed take-overs of one executor, for one silence (its last beat)."""

    beat_at: datetime
    failures: int = 0
    next_at: datetime | None = None
    done: bool = False


class Reaper:
    """This process's heartbeat and its reaping of dead executors, as one background loop."""

    def __init__(
        self,
        workers: WorkerRepository,
        recovery: Recovery,
        *,
        executor_id: str,
        incarnation: str,
        workflow_version: str,
        heartbeat_s: float,
        stale_after_s: float,
        attempts: int,
        now: Callable[[], datetime],
        stranded: StrandedRuns | None = None,
        lease: WorkerLease | None = None,
    ) -> None:
        """``stranded``: runs a crash left without their workflow, looked for every beat;
        ``lease``: told when a beat finds this process's work taken over."""
        self._stranded = stranded
        self._lease = lease
        self._workers = workers
        self._recovery = recovery
        self._executor_id = executor_id
        self._incarnation = incarnation
        self._workflow_version = workflow_version
        self._heartbeat_s = heartbeat_s
        self._stale_after_s = stale_after_s
        self._max_attempts = attempts
        self._now = now
        self._attempts: dict[str, _Attempts] = {}

    async def run(self) -> None:
        """Beat, reap and start stranded runs until cancelled (the first pass at once, at
        boot). A failing database is logged, never fatal."""
        while True:
            try:
                if not await self._workers.beat(self._executor_id, self._incarnation):
                    log.error("engine.heartbeat.superseded", executor_id=self._executor_id)
                    if self._lease is not None:
                        # Reaped while alive, or the id claimed again: this process stops.
                        self._lease.lost("heartbeat")
                        return
                await self.reap_once()
            except ReelforgeError as exc:
                log.warning("engine.heartbeat.failed", code=exc.code)
            if self._stranded is not None:
                try:
                    await self._stranded.reconcile()
                except ReelforgeError as exc:
                    log.warning("engine.stranded_runs.failed", code=exc.code)
            await asyncio.sleep(self._heartbeat_s)

    async def reap_once(self) -> list[str]:
        """Take over the work of every dead executor nobody took over yet; their ids."""
        now = self._now()
        stale_before = now - timedelta(seconds=self._stale_after_s)
        taken: list[str] = []
        for worker in await self._workers.unattended(stale_before, exclude=self._executor_id):
            attempts = self._attempts.get(worker.executor_id)
            if attempts is None or attempts.beat_at != worker.beat_at:
                attempts = self._attempts[worker.executor_id] = _Attempts(worker.beat_at)
            if attempts.done or (attempts.next_at is not None and now < attempts.next_at):
                continue
            if not await self._workers.claim(
                worker.executor_id, worker.beat_at, reaper=self._executor_id
            ):
                continue
            if await self._take_over(worker.executor_id, attempts):
                taken.append(worker.executor_id)
            else:
                await self._workers.release(worker.executor_id, reaper=self._executor_id)
        return taken

    async def _take_over(self, executor_id: str, attempts: _Attempts) -> bool:
        """Recover the executor's work and check that none of this version is left."""
        try:
            count = await self._recovery.recover(executor_id)
            left = await self._recovery.pending(executor_id)
        except Exception as exc:
            # Anything DBOS raises: the claim goes back and a later pass tries again.
            self._failed(executor_id, attempts, error=type(exc).__name__, left=[])
            return False
        ours = [w.workflow_id for w in left if w.app_version == self._workflow_version]
        if ours:
            self._failed(executor_id, attempts, error="workflows_left_pending", left=ours)
            return False
        others = [w for w in left if w.app_version != self._workflow_version]
        if others:
            attempts.done = True
            log.warning(
                "engine.reaper.other_versions",
                executor_id=executor_id,
                workflows=len(others),
                versions=sorted({str(w.app_version) for w in others}),
                workflow_version=self._workflow_version,
                hint="a worker of that version takes them over; or see docs/upgrading.md",
            )
            return False
        self._attempts.pop(executor_id, None)
        log.info(
            "engine.reaper.took_over",
            executor_id=executor_id,
            workflows=count,
            attempt=attempts.failures + 1,
            by=self._executor_id,
        )
        return True

    def _failed(
        self, executor_id: str, attempts: _Attempts, *, error: str, left: list[str]
    ) -> None:
        attempts.failures += 1
        if attempts.failures >= self._max_attempts:
            attempts.done = True
            log.error(
                "engine.reaper.gave_up",
                executor_id=executor_id,
                attempts=attempts.failures,
                error=error,
                left=left[:20],
            )
            return
        backoff = min(self._heartbeat_s * 2 ** (attempts.failures - 1), self._stale_after_s)
        attempts.next_at = self._now() + timedelta(seconds=backoff)
        log.warning(
            "engine.reaper.failed",
            executor_id=executor_id,
            attempt=attempts.failures,
            error=error,
            left=left[:20],
            retry_in_s=backoff,
        )

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
