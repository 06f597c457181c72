"""fal's official Python client, pointed at the emulator, completes generations.

This proves the emulator speaks fal's wire format as fal's own client reads it (reference §1.12:
the client's host constants are read at call time, so a test can point them at loopback; after
submit it follows the URLs the server returned).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import fal_client
import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

KEY = "fal-client-test-key"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def fal_at_emulator(emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> str:
    base = emulator_server.base_url
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", f"{base}/fal/queue/")
    monkeypatch.setattr(fal_client.client, "RUN_URL_FORMAT", f"{base}/fal/run/")
    return base


# fal_client has no close(): its httpx clients are cached properties, closed here by hand.
@asynccontextmanager
async def async_client() -> AsyncIterator[fal_client.AsyncClient]:
    client = fal_client.AsyncClient(key=KEY)
    try:
        yield client
    finally:
        await (await client._client).aclose()


@contextmanager
def sync_client() -> Iterator[fal_client.SyncClient]:
    client = fal_client.SyncClient(key=KEY)
    try:
        yield client
    finally:
        client._client.close()


async def test_async_client_subscribes_and_gets_a_png(
    fal_at_emulator: str, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.1)
    updates: list[Any] = []
    async with async_client() as client:
        result = await client.subscribe(
            "fal-ai/flux/dev",
            arguments={"prompt": "a lighthouse at dawn", "output_format": "png"},
            with_logs=True,
            on_queue_update=updates.append,
        )
    assert {type(u) for u in updates} >= {fal_client.InProgress, fal_client.Completed}
    image = result["images"][0]
    async with httpx.AsyncClient() as http:
        data = (await http.get(image["url"])).content
    assert data.startswith(PNG_MAGIC)
    assert (image["width"], image["height"]) == (1024, 768)
    ledger = await emulator.ledger("fal")
    assert ledger["providers"]["fal"]["billed"] == 1
    assert KEY not in repr(ledger)


async def test_async_client_runs_submits_and_cancels(
    fal_at_emulator: str, emulator: EmulatorControl
) -> None:
    async with async_client() as client:
        result = await client.run(
            "fal-ai/veo3.1/fast", arguments={"prompt": "waves", "duration": "4s"}
        )
        assert result["video"]["content_type"] == "video/mp4"

        await emulator.configure(latency_s=5.0, queue_s=0.1)
        handle = await client.submit("fal-ai/flux/dev", arguments={"prompt": "a harbour"})
        assert isinstance(await handle.status(), fal_client.Queued | fal_client.InProgress)
        await handle.cancel()
        status = await client.status("fal-ai/flux/dev", handle.request_id)
    assert isinstance(status, fal_client.Completed)
    assert status.error_type == "request_cancelled"


def test_sync_client_completes_a_generation(fal_at_emulator: str) -> None:
    with sync_client() as client:
        result = client.subscribe("fal-ai/flux/schnell", arguments={"prompt": "a quiet street"})
    image = result["images"][0]
    assert image["content_type"] == "image/jpeg"
    assert httpx.get(image["url"]).content[:3] == b"\xff\xd8\xff"


def test_client_error_carries_fal_detail(fal_at_emulator: str) -> None:
    with sync_client() as client, pytest.raises(fal_client.FalClientHTTPError) as raised:
        client.run("fal-ai/flux/dev", arguments={"seed": 1})
    assert raised.value.status_code == 422
