"""One provider whose prices cannot be read or computed at run time (an adapter from outside,
whose settings our start-up checks do not bound) is that provider's trouble only: the price list
leaves it out and names it, its own estimates are a clear CONFIGURATION_ERROR, and every other
provider's prices and estimates go on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fixtures.server import serve_app
from fixtures.services import local_settings
from providers.toy_provider import ToyProvider
from reelforge.api.app import create_app
from reelforge.errors import ConfigurationError
from reelforge.providers.pricing import PriceEntry
from reelforge.providers.registry import PROVIDER_CLASSES, ProviderClasses
from reelforge.services import open_services


class LostPriceListToy(ToyProvider):
    """A toy whose price facts live in a file that has gone missing."""

    def price_entries(self) -> list[PriceEntry]:
        raise ConfigurationError(
            "The toy's price list file is missing.", details={"provider": self.id}
        )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # The toy's own settings take any price; this one is past what the catalog records.
    settings = local_settings(tmp_path, providers={"toy": {"usd_per_image": "1e30"}})
    classes: ProviderClasses = {**PROVIDER_CLASSES, "toy": LostPriceListToy}
    async with (
        open_services(settings, environ={}, provider_classes=classes) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        yield http


async def test_the_price_list_leaves_out_only_the_provider_that_cannot_list_its_prices(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/prices")
    assert response.status_code == 200, response.text
    body = response.json()
    providers = {entry["provider"] for entry in body["prices"]}
    assert {"local", "fal", "runway"} <= providers
    assert "toy" not in providers
    assert body["unavailable"] == [
        {"provider": "toy", "reason": "CONFIGURATION_ERROR: The toy's price list file is missing."}
    ]
    own = await client.get("/v1/prices", params={"provider": "toy"})
    assert own.status_code == 500
    assert own.json()["error"]["code"] == "CONFIGURATION_ERROR"
    assert "fal" in {
        e["provider"] for e in (await client.get("/v1/prices?provider=fal")).json()["prices"]
    }


async def test_a_price_that_cannot_be_recorded_fails_only_that_providers_estimates(
    client: httpx.AsyncClient,
) -> None:
    toy = await client.post(
        "/v1/costs/estimate",
        json={"jobs": [{"provider": "toy", "capability": "text_to_image", "label": "a"}]},
    )
    assert toy.status_code == 500, toy.text
    error = toy.json()["error"]
    assert error["code"] == "CONFIGURATION_ERROR"
    assert "provider 'toy'" in error["message"]
    local = await client.post(
        "/v1/costs/estimate",
        json={"jobs": [{"provider": "local", "capability": "text_to_image", "label": "a"}]},
    )
    assert local.status_code == 200, local.text
    assert local.json()["total_usd"] == "0.00"
