"""A paid result is never thrown away by a transient fault after billing.

Once the provider reports success, a fault fetching the result or downloading an output (a
404, a 503, a truncated or short file) is tried again, in place and then durably, within
``engine.paid_output_retry_s``: the job succeeds with one bill. A fault that outlasts the
window, or that trying again cannot fix (a URL our guard refuses), fails the job with a
documented code, the cause in the details, and the charge *settled* in the budget ledger.

The output faults are injected at the network edge by a loopback proxy in front of the
emulator (``fixtures.output_faults``), with the emulator contract's names. The emulated vendors'
status answers carry the output URLs, so their result is never fetched on its own: a result
call that fails is the toy provider's (``test_engine_paid_results.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbos import DBOS

from fixtures import emulator as emulator_fixtures
from fixtures.database import postgres_database
from fixtures.emulator import EmulatorControl
from fixtures.engine import FAL_ENV, engine_settings, fal_still, open_engine_harness
from fixtures.output_faults import output_fault_proxy
from keyframes.keyframes_support import keyframes_settings, storyboard
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.engine.service import EngineService
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.engine.views import RunView
from reelforge.engine.workflows import job_workflow_id
from reelforge.services import Services, build_services, open_engine

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

PROJECT = BudgetScope("project", "harbour")
WAIT = WaitPolicy(poll_interval_s=0.1)
# Long enough for the durable retries below; the persistent cases use a short one.
WINDOW_S = 60.0
SHORT_WINDOW_S = 1.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """None: the embedded default (SQLite in the data directory); else a fresh PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    async with postgres_database() as url:
        yield url


@asynccontextmanager
async def paid_engine(
    folder: Path,
    base_url: str,
    *,
    window_s: float,
    database_url: str | None = None,
    allowed_hosts: list[str] | None = None,
) -> AsyncIterator[Services]:
    """Services with a running engine (it executes work on either database), fal at
    ``base_url``, a budget cap on :data:`PROJECT`."""
    settings = engine_settings(
        folder / "data",
        base_url,
        engine={"paid_output_retry_s": window_s, "api_executes": True},
        database_url=database_url,
    )
    if allowed_hosts is not None:
        ingest = settings.ingest.model_copy(update={"allowed_hosts": allowed_hosts})
        settings = settings.model_copy(update={"ingest": ingest})
    await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ=FAL_ENV)
    try:
        await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
        await services.budget.set_cap(PROJECT, Decimal(5), "total")
        yield services
    finally:
        await services.aclose()


def _engine(services: Services) -> EngineService:
    assert services.engine is not None
    return services.engine


def _still(label: str) -> JobSpec:
    return fal_still(label, budget_scopes=(PROJECT.key,))


async def _run_one(services: Services, label: str) -> RunView:
    engine = _engine(services)
    return await engine.wait_for_run(await engine.start_run("test", [_still(label)], wait=WAIT), 60)


async def _billed(emulator: EmulatorControl) -> tuple[int, int]:
    """(generations billed, submits) at the emulator's fal."""
    summary = (await emulator.ledger("fal"))["providers"]["fal"]
    return int(summary["billed"]), int(summary["calls"]["submit"])


async def _price(services: Services) -> Decimal:
    balance = await services.budget.balance(PROJECT)
    return balance.spent_usd


async def _ledger_kinds(services: Services, job_id: str) -> list[str]:
    return sorted(entry.kind for entry in await services.budget.ledger(job_id=job_id))


async def _retry_notes(services: Services, job_id: str) -> list[dict[str, Any]]:
    events = await services.catalog.jobs.events(job_id)
    return [e.payload for e in events if e.kind == "note" and "output_retry" in e.payload]


async def _failure_detail(services: Services, job_id: str) -> dict[str, Any]:
    events = await services.catalog.jobs.events(job_id)
    failed = [e for e in events if e.kind == "status" and e.status == "failed"]
    assert len(failed) == 1
    detail: dict[str, Any] = failed[0].payload["detail"]["error"]
    return detail


async def _assert_one_bill_and_success(
    services: Services, emulator: EmulatorControl, view: RunView
) -> None:
    assert view.status == "succeeded", view
    job = view.jobs[0]
    assert len(job.asset_ids) == 1
    assert await _billed(emulator) == (1, 1)
    assert await _ledger_kinds(services, job.id) == ["reserve", "settle"]
    balance = await services.budget.balance(PROJECT)
    assert balance.reserved_usd == 0
    assert job.cost_usd is not None
    assert balance.spent_usd == Decimal(job.cost_usd) > 0


async def _assert_failed_and_settled(
    services: Services, emulator: EmulatorControl, view: RunView, code: str, cause: str
) -> dict[str, Any]:
    assert view.status == "failed", view
    job = view.jobs[0]
    assert job.error is not None
    assert job.error["code"] == code
    assert job.error["message"].startswith("The provider billed the generation")
    # Paid once, never submitted again, and the charge is spent, not released.
    assert await _billed(emulator) == (1, 1)
    assert await _ledger_kinds(services, job.id) == ["reserve", "settle"]
    balance = await services.budget.balance(PROJECT)
    assert balance.reserved_usd == 0
    assert job.cost_usd is not None
    assert balance.spent_usd == Decimal(job.cost_usd) > 0
    # Nothing half-ingested is left behind.
    assert job.asset_ids == ()
    detail = await _failure_detail(services, job.id)
    assert detail["code"] == code
    assert detail["details"]["paid"] is True
    assert detail["details"]["cause"]["code"] == cause
    return detail


# -- faults that pass ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http_404", "http_503", "truncated", "short"])
async def test_an_output_fault_once_costs_one_bill(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl, kind: str
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with output_fault_proxy(emulator_server.base_url) as proxy:
        proxy.arm(kind, count=1)
        async with paid_engine(tmp_path, proxy.url, window_s=WINDOW_S) as services:
            view = await _run_one(services, kind)
            await _assert_one_bill_and_success(services, emulator, view)
            steps = await DBOS.list_workflow_steps_async(job_workflow_id(view.jobs[0].id))
    # Absorbed by the step's own quick tries: no durable retry, no extra checkpoint.
    names = [step["function_name"] for step in steps]
    assert names.count("reelforge.job.ingest") == 1
    assert not [name for name in names if "paid-output" in name or "output_retry" in name]
    assert proxy.hits == [kind]
    assert proxy.downloads == 2


async def test_an_output_url_failing_past_the_quick_tries_is_fetched_again_durably(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    database_url: str | None,
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with output_fault_proxy(emulator_server.base_url) as proxy:
        # Four tries in the ingest step; the fifth download is the durable retry's.
        proxy.arm("http_404", count=4)
        async with paid_engine(
            tmp_path, proxy.url, window_s=WINDOW_S, database_url=database_url
        ) as services:
            view = await _run_one(services, "late")
            await _assert_one_bill_and_success(services, emulator, view)
            notes = await _retry_notes(services, view.jobs[0].id)
    assert [(n["output_retry"], n["stage"], n["error"]["code"]) for n in notes] == [
        (1, "ingest", "FETCH_REJECTED")
    ]
    assert proxy.downloads == 5


# -- faults that do not ---------------------------------------------------------------------------


async def test_an_output_url_that_keeps_answering_404_fails_unavailable_with_the_charge_settled(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    database_url: str | None,
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with output_fault_proxy(emulator_server.base_url) as proxy:
        proxy.arm("http_404", count=None)
        async with paid_engine(
            tmp_path, proxy.url, window_s=SHORT_WINDOW_S, database_url=database_url
        ) as services:
            view = await _run_one(services, "gone")
            detail = await _assert_failed_and_settled(
                services, emulator, view, "provider_unavailable", "FETCH_REJECTED"
            )
            notes = await _retry_notes(services, view.jobs[0].id)
    assert detail["details"]["stage"] == "ingest"
    assert detail["details"]["cause"]["details"]["status"] == 404
    # Tried again durably (once within the short window), then given up.
    assert len(notes) == 1
    assert detail["details"]["tries"] == 2
    assert proxy.downloads == 8


async def test_a_file_that_keeps_arriving_short_fails_provider_error_with_the_charge_settled(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with output_fault_proxy(emulator_server.base_url) as proxy:
        proxy.arm("short", count=None)
        async with paid_engine(tmp_path, proxy.url, window_s=SHORT_WINDOW_S) as services:
            view = await _run_one(services, "short")
            await _assert_failed_and_settled(
                services, emulator, view, "provider_error", "CORRUPT_MEDIA"
            )


async def test_an_output_url_our_guard_refuses_is_not_tried_again(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    # The emulator's outputs are on loopback, which ingest may not fetch without the allow-list.
    async with paid_engine(
        tmp_path,
        emulator_server.base_url,
        window_s=WINDOW_S,
        allowed_hosts=[],
    ) as services:
        view = await _run_one(services, "refused")
        detail = await _assert_failed_and_settled(
            services, emulator, view, "provider_error", "URL_NOT_ALLOWED"
        )
        assert await _retry_notes(services, view.jobs[0].id) == []
    assert detail["details"]["tries"] == 1


async def test_a_real_failure_before_billing_still_releases(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(
        latency_s=0.1, faults=[{"provider": "fal", "operation": "generate", "kind": "failed"}]
    )
    async with paid_engine(tmp_path, emulator_server.base_url, window_s=WINDOW_S) as services:
        view = await _run_one(services, "doomed")
        assert view.status == "failed"
        job = view.jobs[0]
        assert job.error is not None
        assert await _ledger_kinds(services, job.id) == ["release", "reserve"]
        assert await _price(services) == 0
        assert await _retry_notes(services, job.id) == []
    assert (await _billed(emulator))[0] == 0


async def test_key_frames_report_a_lost_paid_output_in_their_vocabulary(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with output_fault_proxy(emulator_server.base_url) as proxy:
        proxy.arm("http_404", count=None)
        settings = keyframes_settings(
            tmp_path / "data", proxy.url, engine={"paid_output_retry_s": SHORT_WINDOW_S}
        )
        async with (
            open_engine_harness(settings, webhooks=False) as harness,
            httpx.AsyncClient() as http,
        ):
            response = await http.post(
                f"{harness.base_url}/v1/keyframes", json=storyboard(1), timeout=60
            )
            body = response.json()
            [job] = await harness.services.catalog.jobs.list_for_run(body["run_id"])
    assert response.status_code == 200, body
    assert body["generated_frames"] == []
    assert body["failed_frames"] == [
        {"frame_id": "SCENE_1_SHOT_1", "error": "provider_unavailable"}
    ]
    # The key frames' retry policy never resubmits a paid generation; its cost is recorded.
    assert await _billed(emulator) == (1, 1)
    assert job.cost_usd is not None
    assert job.cost_usd > 0


async def _fork_past_the_end(job_id: str) -> tuple[str, list[str], list[str]]:
    """Replay the job's workflow from its checkpoints alone: (result, original step names,
    replayed step names)."""
    workflow = job_workflow_id(job_id)
    original = await DBOS.list_workflow_steps_async(workflow)
    fork = await DBOS.fork_workflow_async(workflow, max(s["function_id"] for s in original) + 1)
    result = await fork.get_result()
    replayed = await DBOS.list_workflow_steps_async(fork.workflow_id)
    return result, [s["function_name"] for s in original], [s["function_name"] for s in replayed]


async def test_paid_output_retries_replay_from_their_checkpoints_and_older_histories_too(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with output_fault_proxy(emulator_server.base_url) as proxy:
        proxy.arm("http_404", count=4)
        async with paid_engine(tmp_path, proxy.url, window_s=WINDOW_S) as services:
            retried = await _run_one(services, "retried")
            assert retried.status == "succeeded"
            # An older release failed a paid job at its first failed ingest: a history it
            # wrote has the fail step right there, and no patch marker.
            proxy.arm("http_404", count=None)

            async def older_release(_name: str) -> bool:
                return False

            with monkeypatch.context() as patch:
                patch.setattr(DBOS, "patch_async", older_release)
                older = await _run_one(services, "older")
            assert older.status == "failed"
            downloads = proxy.downloads

            result, original, replayed = await _fork_past_the_end(retried.jobs[0].id)
            assert result == "succeeded"
            assert replayed == original
            assert "DBOS.patch-paid-output-retry" in original
            assert original.count("reelforge.job.ingest") == 2
            assert "reelforge.job.output_retry" in original

            result, original, replayed = await _fork_past_the_end(older.jobs[0].id)
            assert result == "failed"
            assert replayed == original
            assert "reelforge.job.output_retry" not in original
            assert original[original.index("reelforge.job.ingest") + 1] == "reelforge.job.fail"
    # Replays download nothing and bill nothing.
    assert proxy.downloads == downloads
    summary = (await emulator.ledger("fal"))["providers"]["fal"]
    assert (summary["billed"], summary["calls"]["submit"]) == (2, 2)
