"""The price table: the adapters' facts with sources and dates, overrides from settings, plans."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from budget.budget_support import still
from reelforge.budget.config import BudgetSettings, PriceOverride
from reelforge.budget.plans import Plan, PlannedJob
from reelforge.budget.prices import PriceTable
from reelforge.budget.repository import BudgetRepository
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.providers.base import Capability, ProviderDeps
from reelforge.providers.registry import ProviderRegistry
from reelforge.settings import Settings

Table = tuple[PriceTable, ProviderRegistry]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def table(
    http: httpx.AsyncClient,
    tmp_path: Path,
    budget: Mapping[str, Any] | None = None,
    providers: Mapping[str, Any] | None = None,
) -> Table:
    settings = Settings(
        data_dir=tmp_path,
        budget=dict(budget or {}),
        providers=dict(providers or {}),
    )
    registry = ProviderRegistry(settings, ProviderDeps(http=http, environ={}))
    return PriceTable(registry, settings.budget), registry


def test_an_override_names_exactly_one_rate() -> None:
    assert PriceOverride(per_second_usd=Decimal("0.4")).unit == "second"
    assert PriceOverride(per_image_usd=Decimal(0)).usd == Decimal(0)
    with pytest.raises(ValidationError, match="exactly one"):
        PriceOverride(per_image_usd=Decimal(1), per_second_usd=Decimal(1))
    with pytest.raises(ValidationError, match="exactly one"):
        PriceOverride()


def test_overrides_come_from_reelforge_toml(tmp_path: Path) -> None:
    (tmp_path / "reelforge.toml").write_text(
        '[budget.prices.fal."fal-ai/flux/dev"]\n'
        'per_image_usd = "0.03"\n'
        'source = "fal.ai/pricing"\n'
        "as_of = 2026-05-01\n"
        '[[budget.prices.google."veo-3.1-generate-preview"]]\n'
        'per_second_usd = "0.60"\n'
        'resolution = "4k"\n'
    )
    settings = Settings()
    fal = settings.budget.overrides("fal", "fal-ai/flux/dev")
    assert [(o.usd, o.source, str(o.as_of)) for o in fal] == [
        (Decimal("0.03"), "fal.ai/pricing", "2026-05-01")
    ]
    veo = settings.budget.overrides("google", "veo-3.1-generate-preview")
    assert veo[0].conditions == {"resolution": "4k"}
    assert BudgetSettings().overrides("fal", "x") == []


async def test_the_table_shows_every_adapters_facts_with_sources(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    prices, _ = table(http, tmp_path)
    entries = {
        (e.provider, e.model, tuple(sorted(e.conditions.items()))): e for e in prices.entries()
    }
    local = entries["local", "*", ()]
    assert local.usd == Decimal(0)
    flux = entries["fal", "fal-ai/flux/dev", ()]
    assert (flux.unit, flux.usd, flux.as_of) == ("megapixel", Decimal("0.025"), "May 2026")
    veo_4k_audio = entries["fal", "fal-ai/veo3.1", (("audio", True), ("resolution", "4k"))]
    assert veo_4k_audio.usd == Decimal("0.60")
    assert entries["replicate", "black-forest-labs/flux-dev", ()].usd == Decimal("0.025")
    gen4 = entries["runway", "gen4_turbo", ()]
    assert (gen4.unit, gen4.usd) == ("second", Decimal("0.05"))
    assert "credits" in gen4.source
    veo = entries["google", "veo-3.1-generate", ()]
    assert veo.as_of == "2026-10-07"
    library = entries["character_library", "*", ()]
    assert library.origin == "providers.character_library.price_per_image_usd"
    assert all(isinstance(e.to_json()["usd"], str) for e in entries.values())


async def test_the_table_shows_settings_prices_and_overrides(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    prices, _ = table(
        http,
        tmp_path,
        budget={"prices": {"leonardo": {"*": {"per_image_usd": "0.02", "as_of": "2026-01-02"}}}},
        providers={"fal": {"prices": {"fal-ai/kling": {"unit": "second", "usd": "0.07"}}}},
    )
    fal_settings = [e for e in prices.entries("fal") if e.origin == "providers.fal.prices"]
    assert [(e.model, e.usd) for e in fal_settings] == [("fal-ai/kling", Decimal("0.07"))]
    leonardo = prices.entries("leonardo")
    assert [(e.model, e.origin, e.as_of) for e in leonardo] == [
        ("*", "budget.prices", "2026-01-02")
    ]


async def test_estimates_delegate_to_the_adapter(http: httpx.AsyncClient, tmp_path: Path) -> None:
    prices, registry = table(http, tmp_path)
    request = still(2048, 1024, num_images=2)
    estimate = prices.estimate("fal", request, label="frame-1")
    adapter = registry.get("fal").estimate_cost(request)
    assert (estimate.model, estimate.amount_usd) == (adapter.model, adapter.amount_usd)
    assert estimate.amount_usd == Decimal("0.15")  # 2 images x 3 MP (rounded up) x $0.025
    assert (estimate.source, estimate.label) == ("adapter", "frame-1")
    assert prices.estimate("local", request).amount_usd == Decimal(0)


async def test_the_most_specific_matching_override_wins(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    veo = [
        {"per_second_usd": "0.20"},
        {"per_second_usd": "0.40", "audio": True},
        {"per_second_usd": "0.60", "audio": True, "resolution": "4k"},
    ]
    prices, _ = table(http, tmp_path, budget={"prices": {"fal": {"fal-ai/veo3.1": veo}}})

    def clip(**options: Any) -> PlannedJob:
        return PlannedJob.build(
            "fal", Capability.TEXT_TO_VIDEO, duration_s=8, options=options, width=1920, height=1080
        )

    plain = prices.estimate("fal", clip().query)
    assert (plain.amount_usd, plain.source) == (Decimal("1.60"), "budget.prices")
    voiced = prices.estimate("fal", clip(generate_audio=True).query)
    assert voiced.amount_usd == Decimal("3.20")
    big = prices.estimate("fal", clip(generate_audio=True, resolution="4k").query)
    assert big.amount_usd == Decimal("4.80")
    assert "0.60/second" in big.basis


async def test_an_unpriced_request_has_no_amount(http: httpx.AsyncClient, tmp_path: Path) -> None:
    prices, _ = table(http, tmp_path)
    estimate = prices.estimate("leonardo", still())
    assert not estimate.priced
    assert estimate.to_json()["amount_usd"] is None
    assert "budget.prices.leonardo" in estimate.basis


async def test_plans_are_priced_without_input_images(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    prices, _ = table(http, tmp_path)
    google = PlannedJob.build("google", Capability.IMAGE_TO_VIDEO, duration_s=8)
    library = PlannedJob.build(
        "character_library",
        Capability.IMAGE_TO_IMAGE,
        options={"kind": "portfolio", "library_db_id": "chr_1"},
    )
    # Each would take an input image (google only as bytes, the library only by URL); its
    # price needs none, so a plan carries only how many.
    for job in (google, library):
        assert job.query.image_count == 1
    plan = Plan((google, library, PlannedJob.of("fal", still(), "key")), name="full")
    # Estimating never touches the database: this one is never even created.
    async with Catalog.from_url(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}") as catalog:
        estimate = BudgetService(BudgetRepository.on(catalog), prices).estimate(plan)
    assert not (tmp_path / "unused.db").exists()
    assert [job.provider for job in estimate.jobs] == ["google", "character_library", "fal"]
    # 8 s x $0.15 (Veo 3.1 Fast) + $0 + 2 MP (1024x1024, rounded up) x $0.025
    assert estimate.total_usd == Decimal("1.25")
    body = estimate.to_json()
    assert (body["dry_run"], body["total_usd"], body["affordable"]) == (True, "1.25", None)
