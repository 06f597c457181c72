"""Reserve, settle, release and the ledger, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from budget.budget_support import MovableClock, Wired, wire_budget
from fixtures import database as database_fixtures
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import Catalog
from reelforge.errors import BudgetExhausted, ConfigurationError, Conflict, InvalidInput, NotFound

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url
catalog = database_fixtures.catalog

PROJECT = BudgetScope("project", "p-1")
EPISODE = BudgetScope("episode", "e-1")
USER = BudgetScope("user", "ana")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def wired(catalog: Catalog, tmp_path: Path, clock: MovableClock) -> AsyncIterator[Wired]:
    async with httpx.AsyncClient() as http:
        yield wire_budget(catalog, http, tmp_dir=tmp_path / "data", clock=clock)


async def _reserve(
    wired: Wired, scopes: list[BudgetScope], amount: str, key: str, job: str = "job-1"
) -> str:
    reservation = await wired.budget.reserve(
        scopes,
        Decimal(amount),
        job_id=job,
        provider="fal",
        model="fal-ai/flux/dev",
        idempotency_key=key,
    )
    return reservation.id


async def test_reserve_then_settle_at_the_reported_cost(wired: Wired) -> None:
    budget = wired.budget
    await budget.set_cap(PROJECT, Decimal("1.00"), "total")
    reservation_id = await _reserve(wired, [PROJECT, USER], "0.25", "k1")
    balance = await budget.balance(PROJECT)
    assert (balance.spent_usd, balance.reserved_usd, balance.remaining_usd) == (
        Decimal(0),
        Decimal("0.25"),
        Decimal("0.75"),
    )
    settled = await budget.settle(reservation_id, Decimal("0.31"))
    assert (settled.status, settled.actual_usd, settled.charged_usd) == (
        "settled",
        Decimal("0.31"),
        Decimal("0.31"),
    )
    balance = await budget.balance(PROJECT)
    assert (balance.spent_usd, balance.reserved_usd) == (Decimal("0.31"), Decimal(0))
    # No cap on the user: unlimited, but its spending is recorded all the same.
    user = await budget.balance(USER)
    assert (user.cap_usd, user.remaining_usd, user.spent_usd) == (None, None, Decimal("0.31"))
    entries = await budget.ledger(reservation_id=reservation_id)
    assert [(e.kind, e.amount_usd) for e in entries] == [
        ("reserve", Decimal("0.25")),
        ("settle", Decimal("0.31")),
    ]
    assert entries[0].scopes == ("project:p-1", "user:ana")
    assert entries[1].note == "reported by the provider"


async def test_settle_without_a_reported_cost_uses_the_reserved_figure(wired: Wired) -> None:
    reservation_id = await _reserve(wired, [PROJECT], "0.04", "k1")
    settled = await wired.budget.settle(reservation_id, None)
    assert (settled.actual_usd, settled.charged_usd) == (Decimal("0.04"), Decimal("0.04"))
    again = await wired.budget.settle(reservation_id, None)
    assert again == settled
    with pytest.raises(Conflict):
        await wired.budget.settle(reservation_id, Decimal("0.05"))
    assert len(await wired.budget.ledger(reservation_id=reservation_id)) == 2


async def test_release_gives_the_money_back_once(wired: Wired) -> None:
    await wired.budget.set_cap(PROJECT, Decimal("0.10"), "total")
    reservation_id = await _reserve(wired, [PROJECT], "0.10", "k1")
    with pytest.raises(BudgetExhausted):
        await _reserve(wired, [PROJECT], "0.01", "k2")
    released = await wired.budget.release(reservation_id, "provider failed")
    assert (released.status, released.charged_usd, released.reason) == (
        "released",
        Decimal(0),
        "provider failed",
    )
    await wired.budget.release(reservation_id, "again")
    await _reserve(wired, [PROJECT], "0.10", "k3")
    kinds = [e.kind for e in await wired.budget.ledger(reservation_id=reservation_id)]
    assert kinds == ["reserve", "release"]


async def test_release_after_settle_keeps_the_spend(wired: Wired) -> None:
    reservation_id = await _reserve(wired, [PROJECT], "0.10", "k1")
    await wired.budget.settle(reservation_id, Decimal("0.10"))
    kept = await wired.budget.release(reservation_id, "late cancel")
    assert (kept.status, kept.charged_usd) == ("settled", Decimal("0.10"))


async def test_a_late_settle_after_release_is_recorded(wired: Wired) -> None:
    reservation_id = await _reserve(wired, [PROJECT], "0.10", "k1")
    await wired.budget.release(reservation_id, "canceled")
    billed = await wired.budget.settle(reservation_id, Decimal("0.10"))
    assert (billed.status, billed.charged_usd) == ("settled", Decimal("0.10"))
    assert (await wired.budget.balance(PROJECT)).spent_usd == Decimal("0.10")


async def test_refusal_names_the_scope_the_cap_and_what_is_left(wired: Wired) -> None:
    await wired.budget.set_cap(PROJECT, Decimal("5.00"), "total")
    await wired.budget.set_cap(EPISODE, Decimal("0.50"), "day")
    await _reserve(wired, [PROJECT, EPISODE], "0.40", "k1")
    with pytest.raises(BudgetExhausted) as refused:
        await _reserve(wired, [PROJECT, EPISODE, USER], "0.20", "k2", job="job-2")
    error = refused.value
    assert (error.code, error.http_status) == ("budget_exhausted", 402)
    assert error.details == {
        "scope": "episode:e-1",
        "scope_kind": "episode",
        "scope_id": "e-1",
        "cap_usd": "0.50",
        "period": "day",
        "remaining_usd": "0.10",
        "spent_usd": "0.00",
        "reserved_usd": "0.40",
        "requested_usd": "0.20",
    }
    assert "episode:e-1" in error.message
    assert "$0.10 is left" in error.message
    # Nothing was written for the refused call, under any of its scopes.
    assert (await wired.budget.balance(PROJECT)).reserved_usd == Decimal("0.40")
    assert (await wired.budget.balance(USER)).reserved_usd == Decimal(0)
    assert len(await wired.budget.ledger()) == 1


async def test_reserving_twice_with_one_key_reserves_once(wired: Wired) -> None:
    first = await _reserve(wired, [PROJECT], "0.30", "step-1")
    again = await _reserve(wired, [PROJECT], "0.30", "step-1")
    assert first == again
    assert (await wired.budget.balance(PROJECT)).reserved_usd == Decimal("0.30")
    with pytest.raises(Conflict):
        await _reserve(wired, [PROJECT], "0.30", "step-1", job="another-job")


async def test_a_daily_cap_starts_again_each_utc_day(wired: Wired, clock: MovableClock) -> None:
    await wired.budget.set_cap(USER, Decimal("1.00"), "day")
    first = await _reserve(wired, [USER], "0.80", "d1")
    await wired.budget.settle(first, Decimal("0.90"))
    with pytest.raises(BudgetExhausted):
        await _reserve(wired, [USER], "0.20", "d1-more")
    clock.advance(days=1)
    balance = await wired.budget.balance(USER)
    assert (balance.spent_usd, balance.remaining_usd) == (Decimal(0), Decimal("1.00"))
    await _reserve(wired, [USER], "1.00", "d2")


async def test_zero_cost_work_is_never_refused(wired: Wired) -> None:
    await wired.budget.set_cap(PROJECT, Decimal(0), "total")
    reservation = await wired.budget.reserve(
        [PROJECT],
        Decimal(0),
        job_id="j",
        provider="local",
        model="reelforge-previz-1",
        idempotency_key="free",
    )
    assert reservation.reserved_usd == Decimal(0)
    with pytest.raises(BudgetExhausted):
        await _reserve(wired, [PROJECT], "0.01", "paid")


async def test_unpriced_work_is_refused_under_a_cap_only(wired: Wired) -> None:
    unpriced = await wired.budget.reserve(
        [USER], None, job_id="j", provider="leonardo", model="m", idempotency_key="u1"
    )
    assert (unpriced.reserved_usd, unpriced.status) == (Decimal(0), "active")
    await wired.budget.set_cap(PROJECT, Decimal("10"), "total")
    with pytest.raises(ConfigurationError, match=r"budget\.prices"):
        await wired.budget.reserve(
            [PROJECT, USER], None, job_id="j", provider="leonardo", model="m", idempotency_key="u2"
        )


async def test_can_afford_reads_every_scope(wired: Wired) -> None:
    await wired.budget.set_cap(PROJECT, Decimal("1.00"), "total")
    await _reserve(wired, [PROJECT], "0.70", "k1")
    fits = await wired.budget.can_afford([PROJECT, USER], Decimal("0.30"))
    assert fits.affordable
    assert fits.limiting is None
    too_much = await wired.budget.can_afford([PROJECT, USER], Decimal("0.31"))
    assert not too_much.affordable
    assert too_much.limiting is not None
    assert too_much.limiting.scope == PROJECT
    assert too_much.to_json()["remaining_by_scope"][0]["remaining_usd"] == "0.30"


async def test_caps_can_be_changed_listed_and_removed(wired: Wired) -> None:
    budget = wired.budget
    await budget.set_cap(PROJECT, Decimal("1"), "total")
    changed = await budget.set_cap(PROJECT, Decimal("2.5"), "day")
    assert (changed.cap_usd, changed.period) == (Decimal("2.5"), "day")
    await budget.set_cap(USER, Decimal("3"), "total")
    assert [b.scope for b in await budget.balances()] == [PROJECT, USER]
    assert [b.scope for b in await budget.balances("user")] == [USER]
    assert await budget.remove_cap(PROJECT) is True
    assert await budget.remove_cap(PROJECT) is False
    assert await budget.get_cap(PROJECT) is None
    with pytest.raises(InvalidInput):
        await budget.set_cap(USER, Decimal("-1"), "total")
    with pytest.raises(InvalidInput):
        await budget.set_cap(USER, Decimal("1"), "week")  # type: ignore[arg-type]


async def test_unknown_reservations_and_bad_amounts(wired: Wired) -> None:
    with pytest.raises(NotFound):
        await wired.budget.settle("nope", Decimal(1))
    with pytest.raises(NotFound):
        await wired.budget.release("nope", "x")
    with pytest.raises(InvalidInput):
        await _reserve(wired, [PROJECT], "-0.01", "neg")
    with pytest.raises(InvalidInput):
        await _reserve(wired, [PROJECT], "0.01", "")
    reservation_id = await _reserve(wired, [PROJECT], "0.01", "k")
    with pytest.raises(InvalidInput):
        await wired.budget.settle(reservation_id, Decimal("-1"))


async def test_costs_by_scope_provider_model_and_day(wired: Wired, clock: MovableClock) -> None:
    budget = wired.budget
    a = await _reserve(wired, [PROJECT, USER], "0.10", "a")
    await budget.settle(a, Decimal("0.12"))
    clock.advance(days=1)
    await budget.reserve(
        [PROJECT],
        Decimal("0.40"),
        job_id="j2",
        provider="google",
        model="veo-3.1-generate",
        idempotency_key="b",
    )
    c = await _reserve(wired, [USER], "0.50", "c")
    await budget.release(c, "failed")

    by_scope = await budget.costs("scope")
    assert [(r.key, r.spent_usd, r.reserved_usd, r.reservations) for r in by_scope.rows] == [
        ("project:p-1", Decimal("0.12"), Decimal("0.40"), 2),
        ("user:ana", Decimal("0.12"), Decimal(0), 1),
    ]
    assert (by_scope.spent_usd, by_scope.reserved_usd) == (Decimal("0.12"), Decimal("0.40"))
    by_model = await budget.costs("model")
    assert [(r.provider, r.key) for r in by_model.rows] == [
        ("fal", "fal-ai/flux/dev"),
        ("google", "veo-3.1-generate"),
    ]
    by_day = await budget.costs("day", scope=PROJECT)
    assert [(r.key, r.spent_usd, r.reserved_usd) for r in by_day.rows] == [
        ("2026-05-01", Decimal("0.12"), Decimal(0)),
        ("2026-05-02", Decimal(0), Decimal("0.40")),
    ]
    since = await budget.costs("provider", since=clock.now.date())
    assert [(r.key, r.reserved_usd) for r in since.rows] == [("google", Decimal("0.40"))]
    only_fal = await budget.costs("provider", provider="fal")
    assert only_fal.to_json()["total"] == {"spent_usd": "0.12", "reserved_usd": "0.00"}
    # The ledger keeps every entry, the released one too.
    assert len(await budget.ledger()) == 5
    assert len(await budget.ledger(scope=USER)) == 4


async def test_a_canceller_releases_a_job_by_its_id(wired: Wired) -> None:
    first = await _reserve(wired, [PROJECT], "0.10", "job-9:1", job="job-9")
    await wired.budget.settle(first, None)
    await _reserve(wired, [PROJECT], "0.10", "job-9:2", job="job-9")
    released = await wired.budget.release_job("job-9", "canceled")
    assert [(r.status, r.reason) for r in released] == [("released", "canceled")]
    assert await wired.budget.release_job("job-9", "again") == []
    assert (await wired.budget.balance(PROJECT)).spent_usd == Decimal("0.10")
