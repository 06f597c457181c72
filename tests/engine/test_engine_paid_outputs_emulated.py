"""Each transient fault after billing, injected once by the emulator itself, for every provider
whose outputs are URLs: the job succeeds with one bill. A fault that persists fails the job with
a documented code and the charge settled.

These use the emulator contract's fault kinds on the output-file route (operation ``file``:
``http_404``, ``truncated``, ``short``) and ``malformed_json`` on status polls. A case is skipped
while the emulator does not know its kind, or while the provider's adapter still takes a
malformed status body for the vendor's final word (not retryable).
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import FAST_ENGINE
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.engine.views import RunView
from reelforge.errors import ReelforgeError
from reelforge.providers.base import Capability
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

PROJECT = BudgetScope("project", "harbour")
_LEONARDO_PRICES = {
    kind: {"unit": kind, "usd": "0.01", "source": "test price, 2026"} for kind in ("image", "video")
}
#: Provider -> (settings section given the emulator's URL, its key variable, its status poll's
#: operation in the emulator's fault rules; None: it has no status call).
PROVIDERS: dict[str, tuple[Any, str | None, str | None]] = {
    "fal": (lambda url: {"base_url": f"{url}/fal"}, "FAL_KEY", "status"),
    "replicate": (lambda url: {"base_url": f"{url}/replicate"}, "REPLICATE_API_TOKEN", "status"),
    "runway": (lambda url: {"base_url": f"{url}/runway"}, "RUNWAYML_API_SECRET", "status"),
    "leonardo": (
        lambda url: {"base_url": f"{url}/leonardo/api/rest/v1", "prices": _LEONARDO_PRICES},
        "LEONARDO_API_KEY",
        "get_generation",
    ),
    "character_library": (lambda url: {"base_url": f"{url}/character_library"}, None, None),
}
FILE_FAULTS = ("http_404", "truncated", "short")


async def _arm(emulator: EmulatorControl, rule: dict[str, Any]) -> None:
    """Arm ``rule``, or skip the test when the emulator does not know its kind yet."""
    try:
        await emulator.configure(faults=[rule])
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 422:
            pytest.skip(f"the emulator has no {rule['kind']!r} fault on {rule['operation']!r}")
        raise


def _skip_unless_malformed_status_is_transient(provider: str, operation: str) -> None:
    wire = importlib.import_module(f"reelforge.providers.{provider}.wire")
    try:
        wire.loads_json(b"{not json", operation)
    except ReelforgeError as exc:
        if not exc.retryable:
            pytest.skip(f"{provider}'s adapter takes a malformed body as final ({exc.code})")


@asynccontextmanager
async def emulated_engine(
    folder: Path, emulator_url: str, provider: str, *, window_s: float = 60.0
) -> AsyncIterator[Services]:
    section, key_env, _ = PROVIDERS[provider]
    settings = Settings(
        data_dir=folder / "data",
        auth={"enabled": False},
        ingest={"allowed_hosts": ["127.0.0.1"]},
        providers={provider: section(emulator_url)},
        engine={**FAST_ENGINE, "paid_output_retry_s": window_s},
    )
    await upgrade_database(settings.effective_database_url)
    environ = {key_env: "emulator-key"} if key_env else {}
    services = build_services(settings, environ=environ)
    try:
        await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
        await services.budget.set_cap(PROJECT, Decimal(5), "total")
        yield services
    finally:
        await services.aclose()


async def _run_one(services: Services, provider: str) -> RunView:
    spec = JobSpec(
        provider=provider,
        capability=Capability.TEXT_TO_IMAGE,
        prompt="a lighthouse at dawn",
        width=512,
        height=384,
        label="still",
        budget_scopes=(PROJECT.key,),
    )
    engine = services.engine
    assert engine is not None
    run_id = await engine.start_run("test", [spec], wait=WaitPolicy(poll_interval_s=0.1))
    return await engine.wait_for_run(run_id, 60)


async def _billed(emulator: EmulatorControl, provider: str) -> int:
    summary = (await emulator.ledger(provider))["providers"].get(provider, {})
    return int(summary.get("billed", 0))


async def _fired(emulator: EmulatorControl) -> bool:
    armed = (await emulator.configure())["armed"]
    return all(rule["remaining"] == 0 for rule in armed)


async def _assert_one_bill(services: Services, emulator: EmulatorControl, view: RunView) -> None:
    assert view.status == "succeeded", view
    job = view.jobs[0]
    assert len(job.asset_ids) == 1
    assert await _billed(emulator, job.provider) == 1
    kinds = sorted(entry.kind for entry in await services.budget.ledger(job_id=job.id))
    assert kinds == ["reserve", "settle"]
    assert await _fired(emulator)


@pytest.mark.parametrize("kind", FILE_FAULTS)
@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_an_output_file_fault_once_costs_one_bill(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    provider: str,
    kind: str,
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    await _arm(emulator, {"provider": "*", "operation": "file", "kind": kind, "count": 1})
    async with emulated_engine(tmp_path, emulator_server.base_url, provider) as services:
        await _assert_one_bill(services, emulator, await _run_one(services, provider))


@pytest.mark.parametrize("provider", [p for p, (_, _, status) in PROVIDERS.items() if status])
async def test_a_malformed_status_answer_once_costs_one_bill(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl, provider: str
) -> None:
    operation = PROVIDERS[provider][2]
    assert operation is not None
    _skip_unless_malformed_status_is_transient(provider, operation)
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    rule = {"provider": provider, "operation": operation, "kind": "malformed_json", "count": 1}
    await _arm(emulator, rule)
    async with emulated_engine(tmp_path, emulator_server.base_url, provider) as services:
        await _assert_one_bill(services, emulator, await _run_one(services, provider))


async def test_an_output_file_that_keeps_answering_404_fails_unavailable_and_settles(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    await _arm(emulator, {"provider": "*", "operation": "file", "kind": "http_404", "count": None})
    async with emulated_engine(tmp_path, emulator_server.base_url, "fal", window_s=1.0) as services:
        view = await _run_one(services, "fal")
        assert view.status == "failed", view
        job = view.jobs[0]
        assert job.error is not None
        assert job.error["code"] == "provider_unavailable"
        assert await _billed(emulator, "fal") == 1
        entries = await services.budget.ledger(job_id=job.id)
        assert sorted(entry.kind for entry in entries) == ["reserve", "settle"]
        assert job.cost_usd is not None
        assert (await services.budget.balance(PROJECT)).spent_usd == Decimal(job.cost_usd) > 0


async def test_leonardo_settles_at_the_dollars_its_submit_answer_named(
    emulator: EmulatorControl, tmp_path: Path
) -> None:
    async with emulated_engine(tmp_path, emulator.base_url, "leonardo") as services:
        view = await _run_one(services, "leonardo")
        await _assert_one_bill(services, emulator, view)
        entries = {e.kind: e for e in await services.budget.ledger(job_id=view.jobs[0].id)}
    # Reserved at the configured $0.01; Leonardo's answer said $0.004 (the emulator's rate for
    # one image of at most a megapixel), and that is what the emulator's ledger billed.
    assert entries["reserve"].amount_usd == Decimal("0.01")
    assert entries["settle"].amount_usd == Decimal("0.004")
    billed = (await emulator.ledger("leonardo"))["providers"]["leonardo"]
    assert Decimal(billed["billed_usd"]) == Decimal("0.004")
