"""Caps hold under concurrency: 50 reservations at once, on SQLite and on PostgreSQL.

Every reservation only adds money here, so a call refused at any moment would still not fit at
the end: the final sums must be within every cap, and each refused amount must not fit them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from budget.budget_support import Wired, wire_budget
from fixtures import database as database_fixtures
from reelforge.budget.records import Reservation
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import Catalog
from reelforge.errors import BudgetExhausted

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url
catalog = database_fixtures.catalog

CALLS = 50


@pytest.fixture
async def wired(catalog: Catalog, tmp_path: Path) -> AsyncIterator[Wired]:
    async with httpx.AsyncClient() as http:
        yield wire_budget(catalog, http, tmp_dir=tmp_path / "data")


async def _race(
    wired: Wired, calls: Sequence[tuple[Sequence[BudgetScope], Decimal]]
) -> list[Reservation | BaseException]:
    async def one(index: int, scopes: Sequence[BudgetScope], amount: Decimal) -> Reservation:
        return await wired.budget.reserve(
            scopes,
            amount,
            job_id=f"job-{index}",
            provider="fal",
            model="fal-ai/flux/dev",
            idempotency_key=f"race-{index}",
        )

    return await asyncio.gather(
        *(one(i, scopes, amount) for i, (scopes, amount) in enumerate(calls)),
        return_exceptions=True,
    )


async def test_fifty_reservations_against_one_cap(wired: Wired) -> None:
    project = BudgetScope("project", "race")
    cap = Decimal("1.00")
    await wired.budget.set_cap(project, cap, "total")
    rng = random.Random(6)
    amounts = [Decimal(rng.randint(1, 9)) / 100 for _ in range(CALLS)]
    outcomes = await _race(wired, [([project], amount) for amount in amounts])

    accepted = [o for o in outcomes if isinstance(o, Reservation)]
    refused = [(a, o) for a, o in zip(amounts, outcomes, strict=True) if isinstance(o, Exception)]
    assert len(accepted) + len(refused) == CALLS
    assert accepted
    assert refused
    for _, error in refused:
        assert isinstance(error, BudgetExhausted), error
        assert error.details["scope"] == "project:race"
        assert error.details["cap_usd"] == "1.00"
    total = sum((r.reserved_usd for r in accepted), Decimal(0))
    assert total <= cap
    assert all(total + amount > cap for amount, _ in refused)
    balance = await wired.budget.balance(project)
    assert balance.reserved_usd == total
    reserves = [e for e in await wired.budget.ledger(limit=1000) if e.kind == "reserve"]
    assert len(reserves) == len(accepted)


async def test_fifty_reservations_under_overlapping_scopes(wired: Wired) -> None:
    campaign = BudgetScope("campaign", "dragons")
    session = BudgetScope.game_session("dragons", "s1")
    user = BudgetScope("user", "ana")
    caps = {campaign: Decimal("1.00"), session: Decimal("0.60")}
    await wired.budget.set_cap(campaign, caps[campaign], "total")
    await wired.budget.set_cap(session, caps[session], "day")
    # The same scopes in different orders: locks are taken sorted, so no deadlock.
    shapes: list[list[BudgetScope]] = [
        [campaign, session],
        [session, campaign],
        [campaign],
        [session, user],
        [user, session, campaign],
    ]
    rng = random.Random(7)
    calls = [(rng.choice(shapes), Decimal(rng.randint(1, 9)) / 100) for _ in range(CALLS)]
    outcomes = await _race(wired, calls)

    totals = dict.fromkeys(caps, Decimal(0))
    for (scopes, amount), outcome in zip(calls, outcomes, strict=True):
        if isinstance(outcome, Reservation):
            for scope in scopes:
                if scope in totals:
                    totals[scope] += amount
    for scope, cap in caps.items():
        assert totals[scope] <= cap, scope
        assert (await wired.budget.balance(scope)).reserved_usd == totals[scope]
    refusals = 0
    for (scopes, amount), outcome in zip(calls, outcomes, strict=True):
        if isinstance(outcome, Reservation):
            continue
        assert isinstance(outcome, BudgetExhausted), outcome
        named = BudgetScope.parse(outcome.details["scope"])
        assert named in scopes
        assert totals[named] + amount > caps[named]
        refusals += 1
    assert refusals > 0
