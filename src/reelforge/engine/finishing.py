"""A run's last step: its final status, its feature's finish, its ``completed`` event.

:meth:`RunFinishing.finish` runs inside the run workflow's finish step (and when a run is
canceled). It works out the run's status from its jobs, asks the run's feature
(:class:`~reelforge.engine.features.RunFeature`) to finish it, and stores the response, the
status and the ``completed`` event in one transaction, so a reader sees all three or none.

A feature's finish that fails is tried again a few times when the error is retryable (a locked
database, a store that hiccups); a finish that still fails ends the run ``failed``, with the
error's code in the ``completed`` event, rather than leaving the run open forever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from reelforge.catalog import Catalog
from reelforge.catalog.records import JobRecord, RunRecord, RunStatus
from reelforge.catalog.repositories import NewRunEvent
from reelforge.engine.events import RunEvents
from reelforge.engine.features import FeatureDirectory, FinishedRun, RunFeature
from reelforge.engine.queue_repository import QueueRepository
from reelforge.engine.retrying import is_transient, patiently
from reelforge.errors import ReelforgeError, StorageError
from reelforge.log import get_logger

__all__ = ["RunFinishing", "run_status"]

log = get_logger(__name__)


def run_status(run: RunRecord, jobs: Sequence[JobRecord]) -> RunStatus:
    """A run's final status from its jobs (a canceled run stays canceled)."""
    succeeded = sum(1 for job in jobs if job.status == "succeeded")
    if run.status == "canceled":
        return "canceled"
    if jobs and succeeded == len(jobs):
        return "succeeded"
    return "partial" if succeeded else "failed"


class RunFinishing:
    """Finishes runs: status, the feature's finish, the completion event."""

    def __init__(
        self,
        catalog: Catalog,
        events: RunEvents,
        features: FeatureDirectory,
        queues: QueueRepository | None = None,
    ) -> None:
        self._catalog = catalog
        self._events = events
        self._features = features
        self._queues = queues or QueueRepository.on(catalog)

    async def finish(self, run_id: str, *, completion_key: str = "completed") -> str:
        """``completion_key``: the ``completed`` event's key (a retry round's is its own, so
        the run completes again)."""
        run = await self._catalog.runs.get(run_id)
        # A failed job that a retry replaced is history: the run is made of its retry.
        retried = await self._queues.retried_job_ids(run_id)
        jobs = tuple(
            j for j in await self._catalog.jobs.list_for_run(run_id) if j.id not in retried
        )
        status = run_status(run, jobs)
        counts = {s: sum(1 for job in jobs if job.status == s) for s in _JOB_OUTCOMES}
        completed: dict[str, Any] = {"status": status, "jobs": len(jobs), **counts}
        response: Mapping[str, Any] | None = None
        feature = self._features.finisher(run.feature)
        if feature is not None:
            finished = FinishedRun(
                run=run, jobs=jobs, status=status, retries=await self._retries(run_id)
            )
            try:
                response = await _finish(feature, finished)
            except ReelforgeError as exc:
                log.error("run.finish_failed", run_id=run_id, feature=run.feature, code=exc.code)
                status = "failed" if status != "canceled" else status
                completed |= {"status": status, "finish_error": exc.code}
        await self._catalog.runs.set_status(
            run_id,
            status,
            run_event=NewRunEvent("completed", completed, key=completion_key),
            response=response,
        )
        self._events.wake(run_id, "completed")
        log.info("run.completed", run_id=run_id, status=status, **counts)
        return status

    async def _retries(self, run_id: str) -> Mapping[str, int]:
        events = await self._catalog.run_events.after(run_id)
        return Counter(e.job_id for e in events if e.kind == "job_retrying" and e.job_id)


_JOB_OUTCOMES = ("succeeded", "failed", "canceled")


async def _finish(feature: RunFeature[Any], finished: FinishedRun) -> Mapping[str, Any] | None:
    """The feature's finish, tried again after transient errors (a locked database too)."""
    try:
        return await patiently(lambda: feature.finish(finished), transient=_worth_again)
    except ReelforgeError:
        raise
    except Exception as exc:
        # A bug in a feature's finish must not leave the run open forever; what it was is
        # logged by type (never with its locals), and the run ends failed.
        log.error("run.finish_crashed", run_id=finished.id, error=type(exc).__name__)
        raise StorageError(
            "The feature could not finish the run.", details={"error": type(exc).__name__}
        ) from exc


def _worth_again(exc: Exception) -> bool:
    return is_transient(exc) or isinstance(exc, StorageError)
