"""This worker's hold on its work, and what happens when it loses it.

A worker that stalls (a starved machine, a paused VM) for longer than ``engine.stale_after_s``
is taken for dead: a reaper hands its pending workflows to another worker. If it was only slow,
two processes now run the same workflows, and the first to reach a provider call would pay for
a generation the other pays for again. So the steps that lead to a payment write under a
*fence* (:class:`~reelforge.catalog.records.WorkerFence`): the intent before a submit and the
acceptance after it are refused (:class:`~reelforge.errors.WorkerFenced`) once this process's
work was taken over, and its heartbeat fails from then on.

A fenced process stops at once (fail-stop): it cannot tell which of its workflows moved, and
each of them is now run elsewhere from its durable steps. ``reelforge serve`` and ``reelforge
worker`` exit with :data:`EXIT_FENCED`, for the supervisor (systemd, Docker, Kubernetes) to
start it again under a new incarnation; an in-process test passes its own action.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from reelforge.catalog.records import WorkerFence
from reelforge.log import get_logger

__all__ = ["EXIT_FENCED", "WorkerLease", "exit_fenced"]

log = get_logger(__name__)

#: The exit status of a fenced worker (EX_TEMPFAIL: start it again).
EXIT_FENCED = 75


def exit_fenced() -> None:
    """End this process now: its work runs elsewhere, and nothing here may touch it again."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_FENCED)


class WorkerLease:
    """The fence this process writes under once it runs work, and its fail-stop action."""

    def __init__(self, on_lost: Callable[[], None] = exit_fenced) -> None:
        self._fence: WorkerFence | None = None
        self._on_lost = on_lost
        self.lost_at: str | None = None

    @property
    def fence(self) -> WorkerFence | None:
        """``None`` until :meth:`hold`: a process that runs no work writes unfenced."""
        return self._fence

    def hold(self, executor_id: str, incarnation: str, on_lost: Callable[[], None] | None) -> None:
        """Write under ``executor_id`` claimed by ``incarnation`` from now on."""
        self._fence = WorkerFence(executor_id, incarnation)
        if on_lost is not None:
            self._on_lost = on_lost

    def release(self) -> None:
        self._fence = None

    def lost(self, where: str) -> None:
        """This process's work was taken over (noticed at ``where``): stop."""
        if self.lost_at is None:
            self.lost_at = where
            executor_id = None if self._fence is None else self._fence.executor_id
            log.error(
                "engine.worker_fenced",
                executor_id=executor_id,
                noticed_at=where,
                hint="this worker stalled past engine.stale_after_s and its work was handed "
                "to another; it stops, to be started again",
            )
        self._on_lost()
