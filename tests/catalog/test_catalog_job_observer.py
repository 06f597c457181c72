"""The catalog tells its job observer of each committed status change once: asking again for
the status a job has (a step run twice, a duplicate webhook) changes nothing and is not heard.
The metrics count there (reelforge.engine.job_metrics), on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.catalog_data import add_job
from reelforge.catalog import Catalog, JobError
from reelforge.catalog.records import JobRecord
from reelforge.engine.job_metrics import JobStatusMetrics
from reelforge.errors import Conflict
from reelforge.metrics import Metrics


class _Heard:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str, str | None]] = []

    def job_status_changed(self, previous: str, job: JobRecord, feature: str | None) -> None:
        self.changes.append((previous, job.status, feature))


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    text = metrics.exposition().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def test_each_change_is_heard_once_with_its_runs_feature(database_url: str) -> None:
    heard = _Heard()
    async with Catalog.from_url(database_url, job_observer=heard) as catalog:
        run = await catalog.runs.create(feature="keyframes", input={})
        job = await add_job(catalog, run_id=run.id)
        loose = await add_job(catalog)
        for _ in range(2):
            await catalog.jobs.transition(job.id, "running", provider_request_id="r-1")
        for _ in range(2):
            await catalog.jobs.transition(job.id, "succeeded", cost=Decimal("0.04"))
        await catalog.jobs.transition(loose.id, "failed", error=JobError("PROVIDER_ERROR", "no"))
        with pytest.raises(Conflict):
            await catalog.jobs.transition(loose.id, "succeeded")
    assert heard.changes == [
        ("queued", "running", "keyframes"),
        ("running", "succeeded", "keyframes"),
        ("queued", "failed", None),
    ]


async def test_the_metrics_count_a_job_once_however_often_its_steps_ask(
    database_url: str,
) -> None:
    metrics = Metrics()
    observer = JobStatusMetrics(metrics.jobs)
    async with Catalog.from_url(database_url, job_observer=observer) as catalog:
        run = await catalog.runs.create(feature="segments", input={})
        job = await add_job(catalog, run_id=run.id, provider="fal", model="kling")
        for _ in range(3):  # the submit step and its replays after a crash
            await catalog.jobs.transition(job.id, "running", provider_request_id="r-1")
        await catalog.jobs.transition(job.id, "queued")  # a retry
        await catalog.jobs.transition(job.id, "running", provider_request_id="r-2")
        for _ in range(2):  # the success step, and a duplicate webhook's
            await catalog.jobs.transition(job.id, "succeeded", cost=Decimal("0.25"))
        failed = await add_job(catalog, run_id=run.id, provider="fal", model="kling")
        for _ in range(2):
            await catalog.jobs.transition(
                failed.id, "failed", error=JobError("PROVIDER_TIMEOUT", "slow")
            )
        open_counts = await catalog.jobs.open_counts()
    labels = {"feature": "segments", "provider": "fal", "model": "kling"}
    assert _value(metrics, "reelforge_provider_submissions_total", **labels) == 2
    assert _value(metrics, "reelforge_provider_retries_total", **labels) == 1
    assert _value(metrics, "reelforge_provider_successes_total", **labels) == 1
    assert _value(metrics, "reelforge_provider_cost_usd_total", **labels) == 0.25
    assert _value(metrics, "reelforge_provider_latency_seconds_count", **labels) == 1
    assert _value(metrics, "reelforge_queue_wait_seconds_count", provider="fal") == 1
    failures = "reelforge_provider_failures_total"
    assert _value(metrics, failures, code="PROVIDER_TIMEOUT", **labels) == 1
    assert open_counts == {}
