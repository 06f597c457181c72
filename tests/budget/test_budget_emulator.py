"""Reserve → call → settle or release, driven around real adapters and the emulator, the way a
workflow step will; and dry runs that never reach a provider (the emulator's ledger says so)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from budget.budget_support import Wired, still, wire_budget
from fixtures import database as database_fixtures
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.budget.plans import Plan, PlannedJob
from reelforge.budget.records import Reservation
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import Catalog
from reelforge.errors import BudgetExhausted, ProviderError
from reelforge.providers.base import (
    TERMINAL_STATES,
    Capability,
    GenerationRequest,
    JobState,
    Succeeded,
)

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url
catalog = database_fixtures.catalog
emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

PROJECT = BudgetScope("project", "film")
USER = BudgetScope("user", "ana")
PORTFOLIO = {"kind": "portfolio", "library_db_id": "chr_1"}


@pytest.fixture
async def wired(
    catalog: Catalog, emulator: EmulatorControl, tmp_path: Path
) -> AsyncIterator[Wired]:
    providers = {
        "fal": {"base_url": f"{emulator.base_url}/fal"},
        "character_library": {
            "base_url": f"{emulator.base_url}/character_library",
            "price_per_image_usd": "0.01",
            "timeout_s": 10,
        },
    }
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        yield wire_budget(
            catalog,
            http,
            tmp_dir=tmp_path / "data",
            providers=providers,
            environ={"FAL_KEY": "emulator-fal-key"},
        )


async def _finish(wired: Wired, provider_id: str, request: GenerationRequest) -> JobState:
    adapter = wired.providers.get(provider_id)
    handle = await adapter.submit(request)
    async with asyncio.timeout(15):
        while not isinstance(state := await adapter.status(handle), TERMINAL_STATES):
            await asyncio.sleep(0.05)
    return state


async def run_job(
    wired: Wired,
    provider_id: str,
    request: GenerationRequest,
    scopes: Sequence[BudgetScope],
    job_id: str,
) -> tuple[Reservation, JobState | None]:
    """What the engine's job workflow will do around one provider call."""
    budget = wired.budget
    estimate = budget.estimate_request(provider_id, request)
    reservation = await budget.reserve_estimate(
        scopes, estimate, job_id=job_id, idempotency_key=f"{job_id}:attempt-1"
    )
    try:
        state = await _finish(wired, provider_id, request)
    except ProviderError as exc:
        return await budget.release(reservation.id, f"submit failed: {exc.code}"), None
    if isinstance(state, Succeeded):
        return await budget.settle(reservation.id, state.cost_usd), state
    return await budget.release(reservation.id, type(state).__name__.lower()), state


@pytest.mark.parametrize(("operation", "kind"), [("generate", "failed"), ("submit", "http_500")])
async def test_a_failed_run_releases_its_reservation(
    wired: Wired, emulator: EmulatorControl, operation: str, kind: str
) -> None:
    await wired.budget.set_cap(PROJECT, Decimal("1.00"), "total")
    await emulator.inject("fal", operation, kind)
    reservation, _ = await run_job(wired, "fal", still(512, 384), [PROJECT], "job-failed")
    assert (reservation.status, reservation.charged_usd) == ("released", Decimal(0))
    balance = await wired.budget.balance(PROJECT)
    assert (balance.spent_usd, balance.reserved_usd, balance.remaining_usd) == (
        Decimal(0),
        Decimal(0),
        Decimal("1.00"),
    )
    kinds = [entry.kind for entry in await wired.budget.ledger(job_id="job-failed")]
    assert kinds == ["reserve", "release"]
    assert (await emulator.ledger("fal"))["billed"] == []


async def test_a_run_without_a_reported_cost_settles_at_the_tables_figure(
    wired: Wired, emulator: EmulatorControl
) -> None:
    reservation, _ = await run_job(wired, "fal", still(512, 384), [PROJECT], "job-still")
    assert (reservation.status, reservation.actual_usd) == ("settled", Decimal("0.025"))
    # fal reports no cost on the queue path; the table's figure is what the vendor billed.
    billed = (await emulator.ledger("fal"))["billed"]
    assert [Decimal(b["amount_usd"]) for b in billed] == [reservation.actual_usd]
    entries = await wired.budget.ledger(job_id="job-still")
    assert entries[-1].note == "estimate (none reported)"


async def test_a_run_settles_at_the_cost_its_provider_reports(
    wired: Wired, emulator: EmulatorControl
) -> None:
    reference = GenerationRequest(Capability.TEXT_TO_IMAGE, "a knight", width=512, height=512)
    _, made = await run_job(wired, "character_library", reference, [PROJECT, USER], "job-ref")
    assert isinstance(made, Succeeded)
    options = {"kind": "portfolio", "library_db_id": made.metadata.extra["library_db_id"]}
    request = GenerationRequest(
        Capability.TEXT_TO_IMAGE, "a knight, all angles", width=512, height=512, options=options
    )
    estimate = wired.budget.estimate_request("character_library", request)
    assert estimate.amount_usd == Decimal("0.01")  # one image, before the library answers
    reservation, _ = await run_job(wired, "character_library", request, [PROJECT, USER], "job-set")
    # The 360° set came back as eight images, billed per image returned.
    assert (reservation.reserved_usd, reservation.actual_usd) == (Decimal("0.01"), Decimal("0.08"))
    entries = await wired.budget.ledger(reservation_id=reservation.id)
    assert [(e.kind, e.amount_usd, e.note) for e in entries] == [
        ("reserve", Decimal("0.01"), None),
        ("settle", Decimal("0.08"), "reported by the provider"),
    ]
    for scope in (PROJECT, USER):
        assert (await wired.budget.balance(scope)).spent_usd == Decimal("0.09")
    report = await wired.budget.costs("provider")
    assert report.to_json()["rows"][0] == {
        "key": "character_library",
        "provider": "character_library",
        "spent_usd": "0.09",
        "reserved_usd": "0.00",
        "reservations": 2,
    }


async def test_a_run_over_its_cap_fails_before_any_provider_call(
    wired: Wired, emulator: EmulatorControl
) -> None:
    await wired.budget.set_cap(PROJECT, Decimal("0.02"), "total")
    with pytest.raises(BudgetExhausted) as refused:
        await run_job(wired, "fal", still(512, 384), [PROJECT], "job-over")
    assert refused.value.details["remaining_usd"] == "0.02"
    assert (await emulator.ledger())["calls"] == []
    assert await wired.budget.ledger() == []


async def test_a_dry_run_calls_no_provider(wired: Wired, emulator: EmulatorControl) -> None:
    await wired.budget.set_cap(PROJECT, Decimal("5"), "day")
    plan = Plan(
        (
            PlannedJob.build("fal", Capability.TEXT_TO_IMAGE, width=1024, height=576, label="key"),
            PlannedJob.build(
                "fal", Capability.IMAGE_TO_VIDEO, duration_s=8, options={"generate_audio": True}
            ),
            PlannedJob.build("character_library", Capability.TEXT_TO_IMAGE, options=PORTFOLIO),
            PlannedJob.build("local", Capability.TEXT_TO_VIDEO, duration_s=4),
        )
    )
    estimate = await wired.budget.estimate_plan(plan, [PROJECT, USER])
    body = estimate.to_json()
    assert body["total_usd"] == "3.235"  # $0.025 + 8 s x $0.40 + $0.01 + $0
    assert [job["model"] for job in body["per_job"]] == [
        "fal-ai/flux/dev",
        "fal-ai/veo3.1/image-to-video",
        "character-library/portfolio",
        "reelforge-animatic-1",
    ]
    assert (body["affordable"], body["limiting_scope"]) == (True, None)
    assert body["remaining_by_scope"][0]["remaining_usd"] == "5.00"
    ledger = await emulator.ledger()
    assert (ledger["calls"], ledger["billed"]) == ([], [])
    assert await wired.budget.ledger() == []


async def test_a_feature_falls_back_to_a_degraded_plan(
    wired: Wired, emulator: EmulatorControl
) -> None:
    still_job = PlannedJob.build("fal", Capability.TEXT_TO_IMAGE, width=1024, height=576)
    clip_job = PlannedJob.build("fal", Capability.IMAGE_TO_VIDEO, duration_s=8)
    full = Plan((still_job, clip_job), name="still+clip")
    degraded = Plan((still_job,), name="still", degraded=True)
    await wired.budget.set_cap(PROJECT, Decimal("1.00"), "total")
    chosen = await wired.budget.choose_plan([full, degraded], [PROJECT])
    assert (chosen.plan.name, chosen.total_usd) == ("still", Decimal("0.025"))
    await wired.budget.set_cap(PROJECT, Decimal("0.01"), "total")
    with pytest.raises(BudgetExhausted):
        await wired.budget.choose_plan([full, degraded], [PROJECT])
    assert (await emulator.ledger())["calls"] == []
