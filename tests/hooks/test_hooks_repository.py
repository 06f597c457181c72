"""The webhooks' tables through their repository, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reelforge.catalog import Catalog
from reelforge.engine.hooks.announcing import budget_exhausted_event
from reelforge.engine.hooks.events import HookEvent
from reelforge.engine.hooks.repository import HookRepository
from reelforge.errors import NotFound

AT = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


def _run_end(run_id: str, project_id: str | None) -> HookEvent:
    return HookEvent(
        type="run.completed",
        key=f"run:{run_id}:end",
        at=AT,
        project_id=project_id,
        run_id=run_id,
        data={"run_id": run_id},
    )


async def test_an_event_makes_one_delivery_per_subscription_that_wants_it(
    catalog: Catalog,
) -> None:
    hooks = HookRepository.on(catalog)
    project = await hooks.subscribe("https://a.example/h", ["run.completed"], project_id="p-1")
    subscriptions_b = (
        await hooks.subscribe("https://b.example/h", ["run.failed"], project_id="p-1")
    ).id
    await hooks.subscribe("https://c.example/h", ["run.completed"], project_id="p-2")
    callback = await hooks.subscribe("https://d.example/h", ["run.completed"], run_id="r" * 32)

    first = await hooks.record_event(_run_end("r" * 32, "p-1"))
    assert len(first) == 2
    again = await hooks.record_event(_run_end("r" * 32, "p-1"))
    assert sorted(again) == sorted(first)
    made = {d.subscription_id for d in [await hooks.delivery(i) for i in first]}
    assert made == {project.id, callback.id}
    [delivery] = await hooks.deliveries(project.id)
    assert (delivery.status, delivery.attempts, delivery.url) == ("pending", 0, project.url)
    assert delivery.body == {
        "type": "run.completed",
        "timestamp": AT.isoformat(),
        "data": {"run_id": "r" * 32},
    }
    # A run with neither a project nor a callback reaches nobody.
    assert await hooks.record_event(_run_end("s" * 32, None)) == []
    assert [s.id for s in await hooks.subscriptions("p-1")] == [project.id, subscriptions_b]
    assert callback.id not in [s.id for s in await hooks.subscriptions()]


async def test_the_log_keeps_every_attempt_and_rounds(catalog: Catalog) -> None:
    hooks = HookRepository.on(catalog)
    subscription = await hooks.subscribe(
        "https://a.example/h", ["budget.exhausted"], project_id="p-1"
    )
    [delivery_id] = await hooks.record_event(budget_exhausted_event("project", "p-1", AT))
    failed = await hooks.record_attempt(
        delivery_id, "failed", status_code=500, error="HTTP 500", final=False
    )
    assert failed == "pending"
    assert (
        await hooks.record_attempt(delivery_id, "refused", status_code=None, error="x", final=True)
        == "failed"
    )
    assert await hooks.reopen(delivery_id) == 2
    assert (
        await hooks.record_attempt(
            delivery_id, "delivered", status_code=204, error=None, final=False
        )
        == "delivered"
    )
    delivery = await hooks.delivery(delivery_id)
    assert [(a.attempt, a.outcome, a.status_code) for a in delivery.log] == [
        (1, "failed", 500),
        (2, "refused", None),
        (3, "delivered", 204),
    ]
    assert (delivery.status, delivery.rounds, delivery.event_type) == (
        "delivered",
        2,
        "budget.exhausted",
    )

    await hooks.unsubscribe(subscription.id)
    with pytest.raises(NotFound):
        await hooks.delivery(delivery_id)
    with pytest.raises(NotFound):
        await hooks.deliveries(subscription.id)
