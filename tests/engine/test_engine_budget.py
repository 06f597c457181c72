"""Budgets inside the engine's job steps: reserve before submit, settle on success, release on
failure; a cap that cannot cover a job stops it before any provider call."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import EngineHarness, engine_settings, fal_still, open_engine_harness
from reelforge.budget.scopes import BudgetScope
from reelforge.emulator import EmulatorServer
from reelforge.engine.requests import generation_request
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.providers.base import GenerationRequest

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

PROJECT = BudgetScope("project", "lighthouse")
WAIT = WaitPolicy(poll_interval_s=0.1)


async def test_jobs_settle_under_their_scope_and_a_full_cap_stops_before_submit(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False) as harness:
        budget = harness.services.budget
        price = budget.estimate_request(
            "fal", await _request(harness, fal_still("probe"))
        ).amount_usd
        assert price is not None
        assert price > 0
        # Room for exactly two stills.
        await budget.set_cap(PROJECT, price * 2, "total")
        specs = [fal_still(f"f{i}", budget_scopes=(PROJECT.key,)) for i in range(2)]
        first = await harness.engine.wait_for_run(
            await harness.engine.start_run("test", specs, wait=WAIT), 20
        )
        assert first.status == "succeeded"
        assert [Decimal(str(job.cost_usd)) for job in first.jobs] == [price, price]
        balance = await budget.balance(PROJECT)
        assert balance.spent_usd == price * 2
        assert balance.reserved_usd == Decimal(0)

        calls_before = len((await emulator.ledger("fal"))["calls"])
        refused = await harness.engine.wait_for_run(
            await harness.engine.start_run(
                "test", [fal_still("over", budget_scopes=(PROJECT.key,))], wait=WAIT
            ),
            20,
        )
        assert refused.status == "failed"
        assert refused.jobs[0].error is not None
        assert refused.jobs[0].error["code"] == "budget_exhausted"
        calls_after = (await emulator.ledger("fal"))["calls"]
        assert not [c for c in calls_after[calls_before:] if c["operation"] == "submit"]


async def test_a_failed_job_releases_its_reservation(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(
        latency_s=0.1,
        faults=[{"provider": "fal", "operation": "generate", "kind": "failed", "count": 1}],
    )
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False) as harness:
        budget = harness.services.budget
        await budget.set_cap(PROJECT, Decimal("5"), "total")
        view = await harness.engine.wait_for_run(
            await harness.engine.start_run(
                "test", [fal_still("doomed", budget_scopes=(PROJECT.key,))], wait=WAIT
            ),
            20,
        )
        assert view.status == "failed"
        balance = await budget.balance(PROJECT)
        assert balance.reserved_usd == Decimal(0)
        assert balance.spent_usd == Decimal(0)
        kinds = [entry.kind for entry in await budget.ledger(job_id=view.jobs[0].id)]
        assert sorted(kinds) == ["release", "reserve"]


async def _request(harness: EngineHarness, spec: JobSpec) -> GenerationRequest:
    services = harness.services
    provider = services.providers.get("fal")
    return await generation_request(
        spec, provider, catalog=services.catalog, store=services.store, webhook_base_url=None
    )
