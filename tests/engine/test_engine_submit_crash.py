"""``kill -9`` inside the submit window (fal has accepted a job, the catalog has only the
intent), embedded mode: the restarted worker finishes the run, and every generation fal billed
is a settled charge in the ledger.

Workers have no webhook URL here. Where fal's submissions can be listed (``finds_submissions``)
the held job is adopted and billed once; where they cannot, its possible charge is settled at
the estimate with the reason "possibly billed twice" and the job submitted again: either way the
ledger's settled charges match fal's bills one for one.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_env, engine_settings, processes, wait_for_file, wait_for_run_end
from reelforge.budget.config import BudgetSettings
from reelforge.budget.prices import PriceTable
from reelforge.budget.repository import BudgetRepository
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog, upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.providers.base import ProviderDeps
from reelforge.providers.fal.adapter import FalProvider
from reelforge.providers.registry import ProviderRegistry
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

RUNNER = Path(__file__).resolve().parent / "submit_runner.py"


async def test_kill_9_in_the_submit_window_never_leaves_a_bill_unrecorded(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    # One submit at a time: the kill finds exactly one job in its window.
    engine = {
        "executor_id": "window-host",
        "orphan_wait_s": 1.0,
        "queues": {"fal": {"concurrency": 1}},
    }
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    marker, held = tmp_path / "run_id", tmp_path / "held"
    with processes(tmp_path, engine_env(settings)) as group:
        first = group.start(
            "first", str(RUNNER), "--start", "3", "--marker", str(marker), "--held", str(held)
        )
        run_id = await wait_for_file(marker)
        held_id = await wait_for_file(held)
        group.kill(first)
        group.worker("second")
        async with Catalog.from_url(settings.effective_database_url) as catalog:
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            jobs = await catalog.jobs.list_for_run(run_id)
            async with httpx.AsyncClient() as http:
                budget = BudgetService(BudgetRepository.on(catalog), _no_prices(http))
                ledger = await budget.ledger(limit=1000)
                settled = {e.reservation_id: e for e in ledger if e.kind == "settle"}
                reservations = [await budget.get_reservation(r) for r in settled]
        assert status == "succeeded", group.log("second")
    fal = await emulator.ledger("fal")
    billed = [b["request_id"] for b in fal["billed"]]
    assert held_id in billed
    assert all(job.status == "succeeded" and len(job.asset_ids) == 1 for job in jobs)
    # One settled charge for every generation fal billed, and no more.
    assert len(reservations) == len(billed)
    recorded = {str(job.provider_request_id) for job in jobs}
    if held_id in recorded:
        assert FalProvider.finds_submissions
        assert len(billed) == 3
    else:
        [possible] = [r for r in reservations if r.reason]
        assert possible.reason is not None
        assert possible.reason.startswith("possibly billed twice")
        assert len(billed) == 4


def _no_prices(http: httpx.AsyncClient) -> PriceTable:
    """The ledger is only read here: no prices are needed."""
    registry = ProviderRegistry(Settings(), ProviderDeps(http=http, environ={}))
    return PriceTable(registry, BudgetSettings())
