"""A paid job whose result call fails, or whose inline result will not decode, after the
provider reported success: the fetch step is run again durably within
``engine.paid_output_retry_s``, and past it the job fails with a documented code and its
charge settled.

The emulated vendors' status answers carry the output URLs (the workflow never fetches their
result on its own), so the provider here is the test tree's toy, whose outputs come as bytes
(as Google's stills do) and whose result call fails as many times as a test says.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fixtures.database import postgres_database
from fixtures.engine import FAST_ENGINE
from providers.toy_provider import ToyProvider
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import upgrade_database
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.engine.views import RunView
from reelforge.errors import ProviderUnavailable
from reelforge.providers.base import (
    Capability,
    JobHandle,
    JobState,
    OutputMedia,
    Succeeded,
)
from reelforge.providers.registry import PROVIDER_CLASSES, ProviderClasses
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings

PROJECT = BudgetScope("project", "harbour")
PRICE = Decimal("0.02")


class FlakyToy(ToyProvider):
    """The toy, whose result call fails ``failures`` times (None: always) with a 503, and whose
    outputs are cut to their first bytes while ``corrupt`` holds."""

    failures: ClassVar[int | None] = 0
    corrupt: ClassVar[bool] = False
    result_calls: ClassVar[int] = 0

    async def result(self, handle: JobHandle) -> Succeeded:
        FlakyToy.result_calls += 1
        if FlakyToy.failures is None or FlakyToy.failures > 0:
            if FlakyToy.failures is not None:
                FlakyToy.failures -= 1
            raise ProviderUnavailable("The toy answered 503.", provider=self.id)
        return await super().result(handle)

    async def status(self, handle: JobHandle) -> JobState:
        state = await super().status(handle)
        if FlakyToy.corrupt and isinstance(state, Succeeded):
            data = state.outputs[0].data or b""
            cut = OutputMedia(data=data[: len(data) // 2], content_type="image/png")
            return Succeeded(outputs=(cut,), metadata=state.metadata)
        return state


@pytest.fixture(autouse=True)
def _reset_toy() -> None:
    FlakyToy.failures, FlakyToy.corrupt, FlakyToy.result_calls = 0, False, 0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    async with postgres_database() as url:
        yield url


@asynccontextmanager
async def toy_engine(
    folder: Path, *, window_s: float, database_url: str | None = None
) -> AsyncIterator[Services]:
    values: dict[str, Any] = {
        "data_dir": folder / "data",
        "auth": {"enabled": False},
        "engine": {**FAST_ENGINE, "paid_output_retry_s": window_s, "api_executes": True},
        "providers": {"toy": {"usd_per_image": str(PRICE)}},
    }
    if database_url is not None:
        values["database_url"] = database_url
    settings = Settings(**values)
    await upgrade_database(settings.effective_database_url)
    classes: ProviderClasses = {**PROVIDER_CLASSES, ToyProvider.id: FlakyToy}
    services = build_services(settings, environ={}, provider_classes=classes)
    try:
        await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
        await services.budget.set_cap(PROJECT, Decimal(5), "total")
        yield services
    finally:
        await services.aclose()


async def _run_one(services: Services) -> RunView:
    spec = JobSpec(
        provider="toy",
        capability=Capability.TEXT_TO_IMAGE,
        prompt="a harbour at dawn",
        width=96,
        height=64,
        label="still",
        budget_scopes=(PROJECT.key,),
    )
    engine = services.engine
    assert engine is not None
    run_id = await engine.start_run("test", [spec], wait=WaitPolicy(poll_interval_s=0.1))
    return await engine.wait_for_run(run_id, 60)


async def _kinds(services: Services, job_id: str) -> list[str]:
    return sorted(entry.kind for entry in await services.budget.ledger(job_id=job_id))


async def _notes(services: Services, job_id: str) -> list[dict[str, Any]]:
    events = await services.catalog.jobs.events(job_id)
    return [e.payload for e in events if e.kind == "note" and "output_retry" in e.payload]


async def test_a_result_call_failing_past_the_quick_tries_is_made_again_durably(
    tmp_path: Path, database_url: str | None
) -> None:
    # Four tries in the fetch step; the fifth call is the durable retry's.
    FlakyToy.failures = 4
    async with toy_engine(tmp_path, window_s=60, database_url=database_url) as services:
        view = await _run_one(services)
        assert view.status == "succeeded", view
        job = view.jobs[0]
        assert len(job.asset_ids) == 1
        assert await _kinds(services, job.id) == ["reserve", "settle"]
        assert (await services.budget.balance(PROJECT)).spent_usd == PRICE
        notes = await _notes(services, job.id)
    assert [(n["stage"], n["error"]["code"]) for n in notes] == [("fetch", "provider_unavailable")]
    assert FlakyToy.result_calls == 5


async def test_a_result_call_that_keeps_failing_fails_unavailable_with_the_charge_settled(
    tmp_path: Path,
) -> None:
    FlakyToy.failures = None
    async with toy_engine(tmp_path, window_s=1.0) as services:
        view = await _run_one(services)
        assert view.status == "failed", view
        job = view.jobs[0]
        assert job.error is not None
        assert job.error["code"] == "provider_unavailable"
        assert job.cost_usd is not None
        assert Decimal(job.cost_usd) == PRICE
        assert await _kinds(services, job.id) == ["reserve", "settle"]
        balance = await services.budget.balance(PROJECT)
        assert (balance.spent_usd, balance.reserved_usd) == (PRICE, Decimal(0))
    assert FlakyToy.result_calls == 8


async def test_an_inline_result_that_will_not_decode_fails_provider_error_settled(
    tmp_path: Path,
) -> None:
    FlakyToy.corrupt = True
    async with toy_engine(tmp_path, window_s=1.0) as services:
        view = await _run_one(services)
        assert view.status == "failed", view
        job = view.jobs[0]
        assert job.error is not None
        assert job.error["code"] == "provider_error"
        assert "billed" in job.error["message"]
        assert await _kinds(services, job.id) == ["reserve", "settle"]
        assert job.asset_ids == ()
        notes = await _notes(services, job.id)
    # The bytes came with the result: fetching it again is the retry.
    assert [(n["stage"], n["error"]["code"]) for n in notes] == [("fetch", "CORRUPT_MEDIA")]
