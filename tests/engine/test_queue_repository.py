"""The queue controls' SQL on SQLite and on PostgreSQL: pauses, retry rounds and links, the
per-provider counts and the queued jobs of a provider or a project."""

from __future__ import annotations

from fixtures import database as database_fixtures
from reelforge.catalog import Catalog
from reelforge.catalog.records import JobError
from reelforge.catalog.repositories import NewJob, NewRunEvent
from reelforge.engine.queue_repository import QueueRepository, RetryPair

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url
catalog = database_fixtures.catalog


def _job(provider: str, label: str) -> NewJob:
    return NewJob(provider, "m-1", "text_to_image", {"provider": provider, "label": label})


async def test_pauses_hold_by_provider_or_run_and_lift(catalog: Catalog) -> None:
    queues = QueueRepository.on(catalog)
    run = await catalog.runs.create(feature="test", input={})
    assert await queues.holding("fal", run.id) is None
    first = await queues.pause("provider", "fal")
    again = await queues.pause("provider", "fal")
    assert again.paused_at == first.paused_at
    assert await queues.holding("fal", run.id) == "provider"
    assert await queues.holding("replicate", run.id) is None
    await queues.pause("run", run.id)
    assert await queues.holding("replicate", run.id) == "run"
    assert await queues.holding("replicate", None) is None
    assert [(p.scope, p.target) for p in await queues.pauses()] == [
        ("provider", "fal"),
        ("run", run.id),
    ]
    assert await queues.resume("provider", "fal") is True
    assert await queues.resume("provider", "fal") is False
    assert await queues.holding("fal", None) is None


async def test_a_retry_round_links_new_jobs_and_counts_by_provider(catalog: Catalog) -> None:
    queues = QueueRepository.on(catalog)
    run = await catalog.runs.create(feature="test", input={}, project_id="harbour")
    jobs = await catalog.jobs.create_many(
        [_job("fal", "a"), _job("fal", "b"), _job("replicate", "c")], run_id=run.id
    )
    other = await catalog.runs.create(feature="test", input={}, project_id="elsewhere")
    await catalog.jobs.create_many([_job("fal", "d")], run_id=other.id)
    await catalog.jobs.transition(jobs[0].id, "running")
    await catalog.jobs.transition(jobs[0].id, "failed", error=JobError("x", "it failed"))
    assert await queues.retry_round(run.id) == 0

    event = NewRunEvent("queued", {"retry_round": 1}, key="queued:retry-1")
    created = await queues.record_retry(
        run.id, 1, [RetryPair(failed=jobs[0], retry=_job("fal", "a"))], event
    )
    assert [job.status for job in created] == ["queued"]
    assert await queues.retry_round(run.id) == 1
    assert await queues.retried_job_ids(run.id) == {jobs[0].id}
    assert await queues.retry_of([created[0].id, jobs[1].id]) == {created[0].id: jobs[0].id}
    assert (await catalog.runs.get(run.id)).status == "running"
    notes = [e.payload for e in await catalog.jobs.events(jobs[0].id) if e.kind == "note"]
    assert notes == [{"retried_by": created[0].id, "retry_round": 1}]

    counts = {c.provider: c for c in await queues.provider_counts([other.id])}
    assert (counts["fal"].queued, counts["fal"].running, counts["fal"].held_by_run) == (3, 0, 1)
    assert counts["fal"].oldest_queued_at is not None
    assert (counts["replicate"].queued, counts["replicate"].held_by_run) == (1, 0)
    assert len(await queues.queued_jobs(provider="fal")) == 3
    harbour = await queues.queued_jobs(project_id="harbour")
    assert {job.request["label"] for job in harbour} == {"a", "b", "c"}
