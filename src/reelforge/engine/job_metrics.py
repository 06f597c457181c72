"""The provider jobs' metrics, counted from the catalog's record of their status changes.

The catalog tells :class:`JobStatusMetrics` of each change of a job's status once it is
committed (:class:`reelforge.catalog.repositories.JobStatusObserver`), and a change is made
once: a step that runs again after a crash, a duplicate webhook or a poll that lost the race
asks for a status the job already has, which changes nothing and is not heard. So nothing is
counted twice, without a key per count. What each change counts
(:class:`reelforge.metrics.JobMetrics`):

- entering ``running``: a submission the provider accepted (a retry if it is the job's second
  attempt or later), and for the first, the wait from queued to submitted;
- ``succeeded``: a success, and the time from the first accepted submission to the outputs
  stored;
- ``failed``: a failure, by the job's final error code;
- ``canceled``: a cancellation;
- any final status with a cost: the settled dollars (what the budget settled, else the
  estimate; :meth:`reelforge.engine.operations.JobOperations.succeed`).

The counts are this process's: in scale-out mode each worker counts the changes it makes
(``engine.worker_metrics_port`` serves them), the API process those it makes (cancels).
"""

from __future__ import annotations

from reelforge.catalog.records import JobRecord
from reelforge.metrics import JobMetrics

__all__ = ["NO_FEATURE", "JobStatusMetrics"]

#: The ``feature`` label of a job that belongs to no run.
NO_FEATURE = "none"


class JobStatusMetrics:
    """Turns a job's status changes into :class:`~reelforge.metrics.JobMetrics` counts."""

    def __init__(self, metrics: JobMetrics) -> None:
        self._metrics = metrics

    def job_status_changed(self, previous: str, job: JobRecord, feature: str | None) -> None:
        labels = (feature or NO_FEATURE, job.provider, job.model)
        if job.status == "running":
            waited = None
            if job.attempts == 1 and job.started_at is not None:
                waited = (job.started_at - job.created_at).total_seconds()
            self._metrics.submitted(*labels, attempt=job.attempts, waited_s=waited)
            return
        if job.status == "succeeded":
            latency = None
            if job.started_at is not None and job.finished_at is not None:
                latency = (job.finished_at - job.started_at).total_seconds()
            self._metrics.succeeded(*labels, latency_s=latency)
        elif job.status == "failed":
            self._metrics.failed(*labels, job.error_code or "unknown")
        elif job.status == "canceled":
            self._metrics.canceled(*labels)
        if job.is_terminal and job.cost_usd is not None:
            self._metrics.settled(*labels, float(job.cost_usd))
