from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fixtures.catalog_data import add_asset, add_job
from reelforge.catalog import Catalog, JobError, create_engine
from reelforge.catalog.repositories import NewJob, NewRunEvent
from reelforge.errors import Conflict, InvalidInput, NotFound, ProviderTimeout

START = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def ticking(database_url: str) -> AsyncIterator[Catalog]:
    """A catalog whose clock moves one second per reading, so every order is deterministic."""
    ticks = iter(range(10_000))

    def clock() -> datetime:
        return START + timedelta(seconds=next(ticks))

    async with Catalog(create_engine(database_url), clock=clock) as opened:
        yield opened


async def test_create_records_the_request_and_a_queued_event(catalog: Catalog) -> None:
    run = await catalog.runs.create(feature="keyframes", input={})
    job = await add_job(
        catalog,
        run_id=run.id,
        prompt="a lighthouse at dusk",
        template_name="keyframes.frame",
        template_version=3,
    )
    assert (job.status, job.attempts, job.asset_ids) == ("queued", 0, ())
    assert (job.started_at, job.finished_at, job.cost_usd) == (None, None, None)
    assert await catalog.jobs.get(job.id) == job
    [event] = await catalog.jobs.events(job.id)
    assert (event.kind, event.status, event.payload) == ("status", "queued", {})


@pytest.mark.parametrize(
    "request_body",
    [
        {"api_key": "sk-123"},
        {"headers": {"Authorization": "Bearer x"}},
        {"inputs": [{"X-Api-Key": "k"}]},
    ],
)
async def test_requests_never_hold_credentials(
    catalog: Catalog, request_body: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await add_job(catalog, request=request_body)
    assert "sk-123" not in caught.value.message
    assert await catalog.jobs.list() == []


async def test_create_rejects_bad_references(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        await add_job(catalog, run_id="nope")
    with pytest.raises(InvalidInput):
        await add_job(catalog, template_name="keyframes.frame")


async def test_lifecycle_appends_status_events(ticking: Catalog) -> None:
    job = await add_job(ticking)
    running = await ticking.jobs.transition(job.id, "running", provider_request_id="req-1")
    assert (running.status, running.attempts, running.provider_request_id) == (
        "running",
        1,
        "req-1",
    )
    assert running.started_at is not None
    done = await ticking.jobs.transition(
        job.id, "succeeded", cost=Decimal("0.0525"), payload={"via": "webhook"}
    )
    assert (done.status, done.cost_usd) == ("succeeded", Decimal("0.052500"))
    assert done.finished_at is not None
    assert done.started_at is not None
    assert done.finished_at > done.started_at
    assert done.is_terminal

    events = await ticking.jobs.events(job.id)
    assert [(e.kind, e.status) for e in events] == [
        ("status", "queued"),
        ("status", "running"),
        ("status", "succeeded"),
    ]
    assert events[1].payload == {"from": "queued", "provider_request_id": "req-1"}
    assert events[2].payload == {
        "from": "running",
        "cost_usd": "0.052500",
        "detail": {"via": "webhook"},
    }
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert await ticking.jobs.get(job.id) == done


async def test_failure_records_the_error(catalog: Catalog) -> None:
    job = await add_job(catalog)
    error = JobError.from_exception(ProviderTimeout("no answer in 60 s", provider="fal"))
    failed = await catalog.jobs.transition(job.id, "failed", error=error)
    assert (failed.error_code, failed.error_message) == ("provider_timeout", "no answer in 60 s")
    last = (await catalog.jobs.events(job.id))[-1]
    assert last.payload["error"] == {"code": "provider_timeout", "message": "no answer in 60 s"}


async def test_terminal_states_are_final_and_repeats_are_no_ops(catalog: Catalog) -> None:
    job = await add_job(catalog)
    done = await catalog.jobs.transition(job.id, "succeeded")
    assert await catalog.jobs.transition(job.id, "succeeded") == done
    with pytest.raises(Conflict) as caught:
        await catalog.jobs.transition(job.id, "failed")
    assert caught.value.details["status"] == "succeeded"
    assert len(await catalog.jobs.events(job.id)) == 2


async def test_requeue_for_retry_counts_attempts(catalog: Catalog) -> None:
    job = await add_job(catalog)
    first = await catalog.jobs.transition(job.id, "running")
    await catalog.jobs.transition(job.id, "queued")
    second = await catalog.jobs.transition(job.id, "running")
    assert second.attempts == 2
    assert second.started_at == first.started_at
    unchanged = await catalog.jobs.transition(job.id, "running")
    assert unchanged == second
    assert len(await catalog.jobs.events(job.id)) == 4


async def test_racing_transitions_record_one_change(catalog: Catalog) -> None:
    job = await add_job(catalog)
    await catalog.jobs.transition(job.id, "running")
    results = await asyncio.gather(
        *(catalog.jobs.transition(job.id, "succeeded") for _ in range(6))
    )
    assert {r.status for r in results} == {"succeeded"}
    statuses = [e.status for e in await catalog.jobs.events(job.id)]
    assert statuses == ["queued", "running", "succeeded"]


@pytest.mark.parametrize("cost", [Decimal(-1), Decimal("1e6"), Decimal("NaN"), 0.5])
async def test_bad_costs_are_rejected(catalog: Catalog, cost: Decimal) -> None:
    job = await add_job(catalog)
    with pytest.raises(InvalidInput):
        await catalog.jobs.transition(job.id, "succeeded", cost=cost)
    assert (await catalog.jobs.get(job.id)).status == "queued"


async def test_history_is_append_only(catalog: Catalog) -> None:
    job = await add_job(catalog)
    webhook = await catalog.jobs.append_event(
        job.id, "webhook", {"status": "OK", "request_id": "r1"}, status="succeeded"
    )
    poll = await catalog.jobs.append_event(job.id, "poll", {"status": "IN_PROGRESS"})
    note = await catalog.jobs.append_event(job.id, "note", {"text": "duplicate webhook ignored"})
    events = await catalog.jobs.events(job.id)
    assert events[1:] == [webhook, poll, note]
    assert webhook.id < poll.id < note.id
    assert (webhook.status, poll.status) == ("succeeded", None)
    # Reporting a status is not changing it: only transition() does that.
    assert (await catalog.jobs.get(job.id)).status == "queued"
    with pytest.raises(InvalidInput):
        await catalog.jobs.append_event(job.id, "status", {}, status="running")
    with pytest.raises(InvalidInput):
        await catalog.jobs.append_event(job.id, "email", {})  # type: ignore[arg-type]
    public = {name for name in dir(catalog.jobs) if not name.startswith("_")}
    assert not {n for n in public if "event" in n} - {"append_event", "events"}


async def test_missing_jobs_are_not_found(catalog: Catalog) -> None:
    jobs = catalog.jobs
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: jobs.get("nope"),
        lambda: jobs.transition("nope", "running"),
        lambda: jobs.append_event("nope", "note", {}),
        lambda: jobs.events("nope"),
        lambda: jobs.attach_assets("nope", []),
        lambda: jobs.outputs("nope"),
        lambda: jobs.list_for_run("nope"),
        lambda: jobs.get_by_provider_request("fal", "nope"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            await call()


async def test_outputs_are_attached_in_order_and_idempotently(catalog: Catalog) -> None:
    job = await add_job(catalog)
    a, b, c = [await add_asset(catalog) for _ in range(3)]
    assert (await catalog.jobs.attach_assets(job.id, [b.id, a.id])).asset_ids == (b.id, a.id)
    again = await catalog.jobs.attach_assets(job.id, [a.id, c.id, c.id])
    assert again.asset_ids == (b.id, a.id, c.id)
    assert (await catalog.jobs.get(job.id)).asset_ids == (b.id, a.id, c.id)
    assert [x.id for x in await catalog.jobs.outputs(job.id)] == [b.id, a.id, c.id]
    with pytest.raises(NotFound):
        await catalog.jobs.attach_assets(job.id, ["missing"])
    assert (await catalog.jobs.get(job.id)).asset_ids == (b.id, a.id, c.id)


async def test_an_asset_added_for_a_job_is_linked_in_the_same_write(catalog: Catalog) -> None:
    job = await add_job(catalog)
    first = await add_asset(catalog)
    await catalog.jobs.attach_assets(job.id, [first.id])
    output = await add_asset(catalog, job_id=job.id)
    assert (await catalog.jobs.get(job.id)).asset_ids == (first.id, output.id)
    key = "media/for-a-missing-job.png"
    with pytest.raises(NotFound):
        await add_asset(catalog, key=key, job_id="no-such-job")
    with pytest.raises(NotFound):
        await catalog.assets.get_by_key(key)


async def test_lookups_and_lists(ticking: Catalog) -> None:
    run = await ticking.runs.create(feature="keyframes", input={})
    first = await add_job(ticking, run_id=run.id)
    second = await add_job(ticking, run_id=run.id, provider="fal", model="fal-ai/flux/dev")
    loose = await add_job(ticking)
    await ticking.jobs.transition(second.id, "running", provider_request_id="abc")
    asset = await add_asset(ticking)
    await ticking.jobs.attach_assets(first.id, [asset.id])

    found = await ticking.jobs.get_by_provider_request("fal", "abc")
    assert found.id == second.id
    with pytest.raises(NotFound):
        await ticking.jobs.get_by_provider_request("local", "abc")

    in_run = await ticking.jobs.list_for_run(run.id)
    assert [j.id for j in in_run] == [first.id, second.id]
    assert in_run[0].asset_ids == (asset.id,)
    assert [j.id for j in await ticking.jobs.list()] == [loose.id, second.id, first.id]
    assert [j.id for j in await ticking.jobs.list(status="running")] == [second.id]
    assert [j.id for j in await ticking.jobs.list(provider="fal")] == [second.id]


async def test_create_many_keeps_the_given_order_in_one_run(database_url: str) -> None:
    # A clock that never moves: the order must not come from the random ids.
    async with Catalog(create_engine(database_url), clock=lambda: START) as still:
        run = await still.runs.create(feature="keyframes", input={})
        drafts = [
            NewJob("local", "previz-v1", "text_to_image", {"frame": i}, prompt=f"frame {i}")
            for i in range(20)
        ]
        created = await still.jobs.create_many(drafts, run_id=run.id)
        listed = await still.jobs.list_for_run(run.id)
        assert [job.id for job in listed] == [job.id for job in created]
        assert [job.request["frame"] for job in listed] == list(range(20))
        assert all(job.status == "queued" for job in listed)
        with pytest.raises(NotFound):
            await still.jobs.create_many(drafts[:1], run_id="nope")


async def test_a_transition_writes_its_run_event_once(catalog: Catalog) -> None:
    run = await catalog.runs.create(feature="keyframes", input={})
    job = await add_job(catalog, run_id=run.id)
    started = NewRunEvent("job_started", {"attempt": 1}, key=f"job_started:{job.id}:1")
    await catalog.jobs.transition(job.id, "running", provider_request_id="r1", run_event=started)
    # A replay: same status, same event key; neither fails nor reports twice.
    await catalog.jobs.transition(job.id, "running", provider_request_id="r1", run_event=started)
    # A key already written (by an older step) is left as it is.
    done_key = f"job_succeeded:{job.id}:"
    await catalog.run_events.append(run.id, "job_succeeded", {}, job_id=job.id, key=done_key)
    done = NewRunEvent("job_succeeded", {"asset_ids": []}, key=done_key)
    assert (await catalog.jobs.transition(job.id, "succeeded", run_event=done)).is_terminal
    events = await catalog.run_events.after(run.id)
    assert [(e.kind, e.job_id, e.payload) for e in events] == [
        ("job_started", job.id, {"attempt": 1}),
        ("job_succeeded", job.id, {}),
    ]
    loose = await add_job(catalog)
    await catalog.jobs.transition(loose.id, "running", run_event=started)
    assert len(await catalog.run_events.after(run.id)) == 2
    assert await catalog.runs.open_jobs(run.id) == 0


async def test_a_webhook_target_is_its_job_and_whether_the_event_was_delivered(
    catalog: Catalog,
) -> None:
    job = await add_job(catalog, provider="fal", model="fal-ai/flux/dev")
    await catalog.jobs.transition(job.id, "running", provider_request_id="req-1")
    target = await catalog.webhook_events.target("fal", "req-1", "evt-1")
    assert (target.job.id, target.delivered) == (job.id, False)
    await catalog.webhook_events.add(
        provider="fal",
        outcome="delivered",
        body={},
        request_id="req-1",
        event_id="evt-1",
        job_id=job.id,
    )
    assert (await catalog.webhook_events.target("fal", "req-1", "evt-1")).delivered
    assert not (await catalog.webhook_events.target("fal", "req-1", "evt-2")).delivered
    assert not (await catalog.webhook_events.target("fal", "req-1", None)).delivered
    with pytest.raises(NotFound):
        await catalog.webhook_events.target("fal", "req-2", "evt-1")
