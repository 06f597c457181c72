"""The emulator's control API: configuration, faults, ledger, reset, files, and load."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator.providers import EMULATED_PROVIDERS
from reelforge.providers.registry import PROVIDER_CLASSES

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

AUTH = {"Authorization": "Key control-test-key"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as client:
        yield client


async def submit(http: httpx.AsyncClient, emulator: EmulatorControl) -> httpx.Response:
    return await http.post(
        f"{emulator.base_url}/fal/queue/fal-ai/flux/dev", json={"prompt": "p"}, headers=AUTH
    )


async def test_health_lists_the_providers(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    body = (await http.get(f"{emulator.base_url}/_emulator/health")).json()
    expected = [provider.id for provider in EMULATED_PROVIDERS]
    offline = {"local", "diffusers"}  # they run on this machine
    assert sorted(expected) == sorted(set(PROVIDER_CLASSES) - offline)
    assert body == {"ok": True, "providers": expected}


async def test_configuration_is_partial_and_validated(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    body = await emulator.configure(latency_s=1.5)
    assert body["latency_s"] == 1.5
    assert body["queue_s"] == 0.05
    url = f"{emulator.base_url}/_emulator/config"
    bad: list[Any] = [
        {"latency_s": -1},
        {"faults": [{"kind": "explode"}]},
        {"faults": [{"operation": "webhook", "kind": "http_500"}]},
        {"faults": [{"operation": "generate", "kind": "lost"}]},
        {"unknown": 1},
        [1, 2],
    ]
    for payload in bad:
        response = await http.post(url, json=payload)
        assert response.status_code == 422, payload
    assert (await http.get(url)).json()["latency_s"] == 1.5


async def test_a_fault_fires_count_times(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.inject("fal", "submit", "http_500", count=2)
    codes = [(await submit(http, emulator)).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    await emulator.inject("*", "*", "http_429", count=None, retry_after=3)
    for _ in range(3):
        response = await submit(http, emulator)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "3"
    armed = (await http.get(f"{emulator.base_url}/_emulator/config")).json()["armed"]
    assert armed == [
        {
            "provider": "*",
            "operation": "*",
            "kind": "http_429",
            "count": None,
            "retry_after": 3.0,
            "delay_s": None,
            "stale_by_s": 3600.0,
            "remaining": None,
        }
    ]


async def test_ledger_records_calls_and_reset_forgets_them(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.inject("fal", "submit", "http_503")
    await submit(http, emulator)
    await submit(http, emulator)
    await http.post(f"{emulator.base_url}/fal/queue/fal-ai/flux/dev", json={"prompt": "p"})
    ledger = await emulator.ledger()
    assert [(c["operation"], c["status"], c["fault"]) for c in ledger["calls"]] == [
        ("submit", 503, "http_503"),
        ("submit", 200, None),
        ("submit", 401, None),
    ]
    assert ledger["calls"][1]["request_id"]
    assert "control-test-key" not in repr(ledger)
    assert (await emulator.ledger("nobody"))["calls"] == []
    await emulator.reset()
    assert (await emulator.ledger())["calls"] == []


async def test_unknown_file_is_404(emulator: EmulatorControl, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{emulator.base_url}/_emulator/files/nothing.png")
    assert response.status_code == 404


async def test_hundred_generations_at_concurrency_twenty(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    """The engine benchmark's load: every job completes and is billed once, with up to 20 in
    flight at a time (speed is measured by bench/engine.py, not asserted here)."""
    await emulator.configure(latency_s=0.5, queue_s=0.1)
    gate = asyncio.Semaphore(20)

    async def generate() -> str:
        async with gate:
            handle = (await submit(http, emulator)).json()
            while (await http.get(handle["status_url"], headers=AUTH)).status_code == 202:
                await asyncio.sleep(0.05)
            result = await http.get(handle["response_url"], headers=AUTH)
            url: str = result.json()["images"][0]["url"]
            return url

    urls = await asyncio.gather(*(generate() for _ in range(100)))
    assert len(urls) == 100
    summary = (await emulator.ledger("fal"))["providers"]["fal"]
    assert summary["billed"] == 100
    assert 15 <= summary["max_in_flight"] <= 20
    assert summary["in_flight"] == 0
