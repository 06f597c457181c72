"""Charges the engine records for submissions cut off by a crash, on SQLite and PostgreSQL:
a possible charge settled with its reason (never released at $0), and a provider's bill for an
orphaned submission recorded at once, whatever the caps say, once per key."""

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
from reelforge.errors import BudgetExhausted

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url
catalog = database_fixtures.catalog

PROJECT = BudgetScope("project", "p-1")


@pytest.fixture
async def wired(catalog: Catalog, tmp_path: Path) -> AsyncIterator[Wired]:
    async with httpx.AsyncClient() as http:
        yield wire_budget(catalog, http, tmp_dir=tmp_path / "data", clock=MovableClock())


async def test_a_settlement_keeps_its_reason(wired: Wired) -> None:
    budget = wired.budget
    first = await budget.reserve(
        [PROJECT], Decimal("0.04"), job_id="j", provider="fal", model="m", idempotency_key="j:1"
    )
    reason = "possibly billed twice: fal may have accepted attempt 1"
    settled = await budget.settle(first.id, None, reason=reason)
    assert (settled.status, settled.actual_usd, settled.reason) == (
        "settled",
        Decimal("0.04"),
        reason,
    )
    # Again (a step run twice): nothing changes.
    assert await budget.settle(first.id, None, reason=reason) == settled
    # A release afterwards leaves the money spent.
    assert (await budget.release(first.id, "failed")).status == "settled"
    [line] = [e for e in await budget.ledger(job_id="j") if e.kind == "settle"]
    assert line.note is not None
    assert reason in line.note
    plain = await budget.reserve(
        [PROJECT], Decimal("0.01"), job_id="k", provider="fal", model="m", idempotency_key="k:1"
    )
    assert (await budget.settle(plain.id)).reason is None


async def test_a_charge_already_made_is_recorded_past_a_full_cap_once(wired: Wired) -> None:
    budget = wired.budget
    await budget.set_cap(PROJECT, Decimal("0.05"), "total")
    await budget.reserve(
        [PROJECT], Decimal("0.05"), job_id="j", provider="fal", model="m", idempotency_key="j:1"
    )
    with pytest.raises(BudgetExhausted):
        await budget.reserve(
            [PROJECT], Decimal("0.01"), job_id="j", provider="fal", model="m", idempotency_key="j:2"
        )
    reason = "billed twice: request r-1 of attempt 1 ran at the provider"
    charge = await budget.record_charge(
        [PROJECT],
        Decimal("0.03"),
        job_id="j",
        provider="fal",
        model="m",
        idempotency_key="orphan:fal:r-1",
        reason=reason,
    )
    assert (charge.status, charge.actual_usd, charge.charged_usd, charge.reason) == (
        "settled",
        Decimal("0.03"),
        Decimal("0.03"),
        reason,
    )
    again = await budget.record_charge(
        [PROJECT],
        Decimal("0.03"),
        job_id="j",
        provider="fal",
        model="m",
        idempotency_key="orphan:fal:r-1",
        reason=reason,
    )
    assert again.id == charge.id
    balance = await budget.balance(PROJECT)
    assert (balance.spent_usd, balance.reserved_usd) == (Decimal("0.03"), Decimal("0.05"))
    kinds = [e.kind for e in await budget.ledger(reservation_id=charge.id)]
    assert kinds == ["reserve", "settle"]
