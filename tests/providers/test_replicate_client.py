"""Replicate's official Python client (legacy 1.x line), pointed at the emulator, completes
predictions.

This proves the emulator speaks Replicate's wire format as Replicate's own client reads it
(reference §2.8: ``base_url`` without ``/v1``). The emulator's files are plain ``http:`` URLs,
which the client leaves as strings (§7); a ``Prefer: wait`` answer carries ``data:`` URIs,
which it wraps in ``FileOutput``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from replicate.client import Client
from replicate.exceptions import ModelError
from replicate.exceptions import ReplicateError as ClientError
from replicate.helpers import FileOutput
from replicate.webhook import InvalidSignatureError, Webhooks

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

TOKEN = "r8_client-test-token"
MODEL = "black-forest-labs/flux-dev"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@asynccontextmanager
async def client_for(emulator: EmulatorControl) -> AsyncIterator[Client]:
    # The client builds its httpx clients lazily and has no close(): closed here by hand.
    client = Client(api_token=TOKEN, base_url=f"{emulator.base_url}/replicate")
    try:
        yield client
    finally:
        await client._async_client.aclose()
        client._client.close()


async def test_run_waits_and_returns_inline_files(emulator: EmulatorControl) -> None:
    async with client_for(emulator) as client:
        output: Any = await client.async_run(
            MODEL, input={"prompt": "a lighthouse at dawn", "output_format": "png"}
        )
        raw: Any = await client.async_run(
            MODEL, input={"prompt": "a lighthouse", "num_outputs": 2}, use_file_output=False
        )
    assert isinstance(output, list)
    assert isinstance(output[0], FileOutput)
    assert output[0].read().startswith(PNG_MAGIC)
    assert len(raw) == 2
    assert all(url.startswith("data:image/png;base64,") for url in raw)
    ledger = await emulator.ledger("replicate")
    assert ledger["providers"]["replicate"]["billed"] == 2
    assert TOKEN not in repr(ledger)


async def test_created_prediction_is_polled_to_http_urls(emulator: EmulatorControl) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.1)
    async with client_for(emulator) as client:
        prediction = await client.models.predictions.async_create(
            model=MODEL, input={"prompt": "a harbour", "aspect_ratio": "16:9"}
        )
        created_as: str = prediction.status
        await prediction.async_wait()
    assert created_as == "starting"
    assert prediction.status == "succeeded"
    assert prediction.model == MODEL
    output: Any = prediction.output
    [url] = output
    assert url.startswith(f"{emulator.base_url}/_emulator/files/")
    async with httpx.AsyncClient(trust_env=False) as http:
        assert (await http.get(url)).content.startswith(PNG_MAGIC)
    assert prediction.metrics is not None
    assert "predict_time" in prediction.metrics


async def test_run_by_version_reads_the_version(emulator: EmulatorControl) -> None:
    async with client_for(emulator) as client:
        model = await client.models.async_get(MODEL)
        assert model.latest_version is not None
        version = model.latest_version.id
        output: Any = await client.async_run(
            f"{MODEL}:{version}", input={"prompt": "a street"}, use_file_output=False
        )
    assert output[0].startswith("data:image/png")
    paths = [call["path"] for call in (await emulator.ledger("replicate"))["calls"]]
    assert "/replicate/v1/predictions" in paths
    assert f"/replicate/v1/models/{MODEL}/versions/{version}" in paths


async def test_cancel_and_errors(emulator: EmulatorControl) -> None:
    await emulator.configure(latency_s=5.0, queue_s=0.1)
    async with client_for(emulator) as client:
        prediction = await client.predictions.async_create(
            version=MODEL, input={"prompt": "a quiet street"}
        )
        canceled = await client.predictions.async_cancel(prediction.id)
        assert canceled.status == "canceled"
        with pytest.raises(ClientError) as raised:
            await client.models.predictions.async_create(model=MODEL, input={"seed": 1})
        assert raised.value.status == 422
        await emulator.configure(latency_s=0.1, queue_s=0.0)
        await emulator.inject("replicate", "generate", "content_rejected")
        with pytest.raises(ModelError) as failed:
            await client.async_run(MODEL, input={"prompt": "x"})
    assert "NSFW" in str(failed.value)
    assert (await emulator.ledger("replicate"))["billed"] == []


async def test_webhook_passes_the_clients_own_validation(emulator: EmulatorControl) -> None:
    box = "replicate-client"
    async with client_for(emulator) as client:
        await client.models.predictions.async_create(
            model=MODEL,
            input={"prompt": "a lighthouse"},
            webhook=emulator.inbox_url(box),
            webhook_events_filter=["completed"],
        )
        secret = await client.webhooks.default.async_secret()
    [delivery] = await emulator.wait_for_inbox(box, 1)
    body = delivery.body.decode()
    Webhooks.validate(headers=delivery.headers, body=body, secret=secret, tolerance=300)
    with pytest.raises(InvalidSignatureError):
        Webhooks.validate(headers=delivery.headers, body=body + " ", secret=secret)
    assert '"status": "succeeded"' in body
