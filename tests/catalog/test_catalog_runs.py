from __future__ import annotations

import pytest

from reelforge.catalog import Catalog
from reelforge.catalog.repositories import NewRunEvent
from reelforge.errors import InvalidInput, NotFound


async def test_create_get_and_respond(catalog: Catalog) -> None:
    run = await catalog.runs.create(
        feature="keyframes", input={"scenes": [{"id": "s1"}]}, project_id="p1"
    )
    assert (run.status, run.response, run.project_id) == ("pending", None, "p1")
    assert await catalog.runs.get(run.id) == run

    running = await catalog.runs.set_status(run.id, "running")
    assert running.status == "running"
    assert running.updated_at >= run.updated_at

    done = await catalog.runs.set_response(run.id, {"frames": [1, 2]}, status="partial")
    assert (done.status, done.response) == ("partial", {"frames": [1, 2]})
    assert await catalog.runs.get(run.id) == done


async def test_input_is_copied_not_shared(catalog: Catalog) -> None:
    payload: dict[str, object] = {"tags": ("a", "b")}
    run = await catalog.runs.create(feature="keyframes", input=payload)
    payload["tags"] = "changed"
    assert run.input == {"tags": ["a", "b"]}
    assert (await catalog.runs.get(run.id)).input == {"tags": ["a", "b"]}


async def test_missing_runs_are_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        await catalog.runs.get("nope")
    with pytest.raises(NotFound):
        await catalog.runs.set_status("nope", "running")
    with pytest.raises(NotFound):
        await catalog.runs.set_response("nope", {})


async def test_invalid_values_are_rejected(catalog: Catalog) -> None:
    with pytest.raises(InvalidInput):
        await catalog.runs.create(feature="keyframes", input={}, status="done")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await catalog.runs.create(feature="key frames", input={})
    with pytest.raises(InvalidInput):
        await catalog.runs.create(feature="keyframes", input={"x": float("nan")})
    with pytest.raises(InvalidInput):
        await catalog.runs.create(feature="keyframes", input={"x": object()})


async def test_list_filters(catalog: Catalog) -> None:
    a = await catalog.runs.create(feature="keyframes", input={}, project_id="p1")
    b = await catalog.runs.create(feature="segments", input={}, project_id="p2")
    await catalog.runs.set_status(b.id, "failed")
    assert {r.id for r in await catalog.runs.list()} == {a.id, b.id}
    assert [r.id for r in await catalog.runs.list(feature="keyframes")] == [a.id]
    assert [r.id for r in await catalog.runs.list(status="failed")] == [b.id]
    assert [r.id for r in await catalog.runs.list(project_id="p1")] == [a.id]


async def test_start_and_status_changes_write_their_run_event_once(catalog: Catalog) -> None:
    run = await catalog.runs.create(feature="keyframes", input={})
    started = NewRunEvent("started", {}, key="started")
    assert (await catalog.runs.start(run.id, started)).status == "running"
    # Again (a step replayed after a crash): still running, still one event.
    assert (await catalog.runs.start(run.id, started)).status == "running"
    completed = NewRunEvent("completed", {"status": "succeeded"}, key="completed")
    done = await catalog.runs.set_status(run.id, "succeeded", run_event=completed)
    assert done.status == "succeeded"
    events = await catalog.run_events.after(run.id)
    assert [(e.kind, e.job_id, e.payload) for e in events] == [
        ("started", None, {}),
        ("completed", None, {"status": "succeeded"}),
    ]
    # A run that is no longer pending keeps its status when started.
    canceled = await catalog.runs.create(feature="keyframes", input={}, status="canceled")
    assert (await catalog.runs.start(canceled.id, started)).status == "canceled"
    with pytest.raises(NotFound):
        await catalog.runs.start("nope", started)
