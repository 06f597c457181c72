"""Leonardo's prices from its own pricing calculator: asked once, kept, read by every estimate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.budget.config import BudgetSettings
from reelforge.budget.prices import PriceTable
from reelforge.cli.app import app
from reelforge.emulator.leonardo import LeonardoEmulator
from reelforge.errors import ConfigurationError, InvalidInput
from reelforge.providers.base import Capability, GenerationRequest, InputImage, ProviderDeps
from reelforge.providers.fal import FalProvider, FalSettings
from reelforge.providers.leonardo import LeonardoError, LeonardoProvider, LeonardoSettings
from reelforge.providers.leonardo.models import KINO_XL
from reelforge.providers.registry import ProviderRegistry
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

KEY = "leonardo-quotes-key-77c1"


def leonardo(
    http: httpx.AsyncClient, state_dir: Path | None, base_url: str = "http://leo.test/v1", **kw: Any
) -> LeonardoProvider:
    deps = ProviderDeps(http=http, environ={"LEONARDO_API_KEY": KEY}, state_dir=state_dir)
    return LeonardoProvider(LeonardoSettings(base_url=base_url, timeout_s=5.0, **kw), deps)


def still(**fields: Any) -> GenerationRequest:
    return GenerationRequest(Capability.TEXT_TO_IMAGE, "p", width=1024, height=576, **fields)


def clip(**fields: Any) -> GenerationRequest:
    image = InputImage(content_type="image/png", data=b"\x89PNG\r\n\x1a\nq")
    return GenerationRequest(
        Capability.IMAGE_TO_VIDEO, "p", duration_s=5.0, images=(image,), **fields
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


async def test_prices_come_from_leonardos_calculator_once_asked(
    emulator: EmulatorControl, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    base_url = f"{emulator.base_url}/leonardo/api/rest/v1"
    provider = leonardo(http, tmp_path, base_url)
    with pytest.raises(ConfigurationError, match=r"costs --refresh --provider leonardo"):
        provider.estimate_cost(still())

    entries = await provider.refresh_prices()

    today = datetime.now(UTC).date().isoformat()
    assert {(e.model, e.unit, e.conditions.get("resolution")) for e in entries} == {
        ("leonardo-default", "image", None),
        (KINO_XL, "image", None),
        ("MOTION2", "video", "RESOLUTION_480"),
        ("MOTION2", "video", "RESOLUTION_720"),
        ("MOTION2FAST", "video", "RESOLUTION_480"),
        ("MOTION2FAST", "video", "RESOLUTION_720"),
        ("VEO3", "video", "RESOLUTION_720"),
        ("VEO3FAST", "video", "RESOLUTION_720"),
    }
    assert all(e.as_of == today and "pricing calculator" in e.source for e in entries)
    # The emulator's own rates: $0.004 an image; clips by resolution.
    image = provider.estimate_cost(still(options={"num_images": 3}))
    assert image.amount_usd == Decimal("0.012")
    assert f"quoted {today}" in image.basis
    assert provider.estimate_cost(clip()).amount_usd == Decimal("0.10")
    sharp = clip(options={"resolution": "RESOLUTION_720"})
    assert provider.estimate_cost(sharp).amount_usd == Decimal("0.20")

    # Kept on disk for the next process, which asks nothing.
    kept = json.loads((tmp_path / "leonardo" / "quotes.json").read_text())
    assert len(kept["quotes"]) == len(entries)
    again = leonardo(http, tmp_path, "http://nothing.invalid/v1")
    assert again.estimate_cost(clip()).amount_usd == Decimal("0.10")
    # A configured price still wins over a quote.
    configured = leonardo(
        http, tmp_path, prices={"image": {"unit": "image", "usd": "0.5", "source": "plan, 2026"}}
    )
    assert configured.estimate_cost(still()).amount_usd == Decimal("0.5")
    section = {"prices": {"image": {"unit": "image", "usd": "0.5", "source": "plan, 2026"}}}
    settings = Settings(providers={"leonardo": section})
    deps = ProviderDeps(http=http, environ={}, state_dir=tmp_path)
    table = PriceTable(ProviderRegistry(settings, deps), BudgetSettings())
    assert table.estimate("leonardo", clip()).amount_usd == Decimal("0.10")
    assert [e.origin for e in table.entries("leonardo")][:2] == [
        "providers.leonardo.prices",
        "leonardo pricing calculator",
    ]


async def test_a_quote_in_credits_or_nonsense_is_refused_and_nothing_is_kept(
    tmp_path: Path,
) -> None:
    answers = [
        {"calculateProductionApiServiceCost": {"cost": {"amount": "45", "unit": "CREDITS"}}},
        {"calculateProductionApiServiceCost": {"cost": -1}},
        {"calculateProductionApiServiceCost": None},
        {"calculateProductionApiServiceCost": {"cost": "NaN"}},
    ]
    for answer in answers:
        sent: list[dict[str, Any]] = []

        def reply(request: httpx.Request, answer: Any = answer, sent: Any = sent) -> httpx.Response:
            sent.append(json.loads(request.content))
            assert request.headers["authorization"] == f"Bearer {KEY}"
            return httpx.Response(200, json=answer)

        async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as client:
            with pytest.raises(LeonardoError):
                await leonardo(client, tmp_path).refresh_prices()
        assert sent[0]["service"] == "IMAGE_GENERATION"
        assert sent[0]["serviceParams"]["IMAGE_GENERATION"]["numImages"] == 1
        assert not (tmp_path / "leonardo" / "quotes.json").exists()


async def test_a_damaged_record_says_how_to_ask_again(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    record = tmp_path / "leonardo" / "quotes.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"quotes": [{"model": "MOTION2"')
    with pytest.raises(ConfigurationError, match=r"cannot be read.*--refresh"):
        leonardo(http, tmp_path).estimate_cost(clip())


async def test_quotes_need_a_place_and_a_vendor_with_a_price_service(
    http: httpx.AsyncClient,
) -> None:
    with pytest.raises(ConfigurationError, match="nowhere to be kept"):
        await leonardo(http, None).refresh_prices()
    fal = FalProvider(FalSettings(), ProviderDeps(http=http, environ={}))
    with pytest.raises(InvalidInput, match="no price service"):
        await fal.refresh_prices()


async def test_the_emulated_calculator_checks_its_body(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    url = f"{emulator.base_url}/leonardo/api/rest/v1/pricing-calculator"
    auth = {"Authorization": "Bearer k"}
    bad = [
        {"service": "TEXT_TO_SONG", "serviceParams": {}},
        {"service": "IMAGE_GENERATION", "serviceParams": {}},
        {"service": "IMAGE_GENERATION", "serviceParams": {"IMAGE_GENERATION": {"numImages": 1}}},
        {
            "service": "VEO3_MOTION_VIDEO_GENERATION",
            "serviceParams": {"VEO3_MOTION_VIDEO_GENERATION": {"resolution": "RESOLUTION_480"}},
        },
    ]
    for body in bad:
        answer = await http.post(url, json=body, headers=auth)
        assert answer.status_code == 400, body
        assert answer.json()["code"] == "validation-failed"
    assert (await http.post(url, json=bad[0])).status_code == 401


@pytest.mark.usefixtures("restored_logging")
def test_costs_refresh_asks_leonardo_and_the_price_table_shows_it(
    emulator_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in LeonardoEmulator.environment(emulator_server.base_url).items():
        monkeypatch.setenv(name, value)
    # Without the configured prices the emulator's environment also gives: the quotes alone.
    monkeypatch.delenv("REELFORGE_PROVIDERS__LEONARDO__PRICES")
    monkeypatch.setenv("REELFORGE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    refused = runner.invoke(app, ["costs", "--refresh"])
    assert refused.exit_code == 2
    assert "--provider" in refused.output
    nothing = runner.invoke(app, ["costs", "--refresh", "--provider", "fal", "--json"])
    assert nothing.exit_code != 0
    assert "no price service" in nothing.output

    refreshed = runner.invoke(app, ["costs", "--refresh", "--provider", "leonardo", "--json"])

    assert refreshed.exit_code == 0, refreshed.output
    quoted = [p for p in json.loads(refreshed.stdout)["prices"] if p["model"] == "MOTION2"]
    assert {p["usd"] for p in quoted} == {"0.1", "0.2"}
    listed = runner.invoke(app, ["costs", "--prices", "--provider", "leonardo", "--json"])
    assert listed.exit_code == 0, listed.output
    origins = {p["origin"] for p in json.loads(listed.stdout)["prices"]}
    assert origins == {"leonardo pricing calculator"}
    assert (tmp_path / "providers" / "leonardo" / "quotes.json").exists()
