"""A transform run is finished by the engine's finish step, not by the request that waits:
its response is stored on the run and the transform recorded whether or not anyone still
waits, over real HTTP with the engine and the emulator."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import wait_for_run_end
from reelforge.emulator import EmulatorServer
from reelforge.features.transform.repository import TransformRepository
from reelforge.features.transform.schemas import TransformRequest
from transform.transform_support import (
    DESCRIPTION,
    HOSTED_ENV,
    astronaut,
    encoded,
    form_bytes,
    transform_app,
    transform_settings,
)

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


async def test_a_run_the_request_gave_up_on_is_finished_with_its_timeout_recorded(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=30.0)
    settings = transform_settings(
        tmp_path / "data", emulator_server.base_url, transform={"request_timeout_s": 1.0}
    )
    async with transform_app(settings, environ=HOSTED_ENV) as app:
        content_type, body = form_bytes({"scene_description": DESCRIPTION}, encoded(astronaut()))
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.post(
                f"{app.base_url}/generate/cinematic",
                content=body,
                headers={"Content-Type": content_type},
            )
        assert response.status_code == 504
        assert response.json()["error"]["code"] == "TIMEOUT"

        catalog = app.services.catalog
        (run,) = await catalog.runs.list(feature="transform")
        assert await wait_for_run_end(catalog, run.id) == "canceled"
        # The finish step stored the answer the request gave, on the run...
        view = await app.services.engine.get_run(run.id)
        assert view.response == response.json()
        # ...and recorded the transform from the run.
        (record,) = await TransformRepository.on(catalog).list()
        assert (record.status, record.error_code, record.run_id) == ("failed", "TIMEOUT", run.id)
        assert record.error_message == "AI task timed out after 1 seconds"
        assert record.processing_time_s is not None


async def test_a_run_whose_request_went_away_is_finished_with_its_outputs_recorded(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=1.0)
    settings = transform_settings(tmp_path / "data", emulator_server.base_url)
    async with transform_app(settings, environ=HOSTED_ENV) as app:
        service = app.services.transform
        photo = "data:image/png;base64," + base64.b64encode(encoded(astronaut())).decode()
        upload = await service.receive_text(photo, "media")
        submitted = asyncio.Event()

        async def progress(event: dict[str, Any]) -> None:
            if event["event"] == "provider":
                submitted.set()

        request = TransformRequest(scene_description=DESCRIPTION, output_count=2)
        waiting = asyncio.create_task(
            service.transform(request, upload, source="generate", progress=progress)
        )
        await submitted.wait()
        waiting.cancel()  # the request is gone; its run is not
        with pytest.raises(asyncio.CancelledError):
            await waiting

        catalog = app.services.catalog
        (run,) = await catalog.runs.list(feature="transform")
        assert await wait_for_run_end(catalog, run.id) == "succeeded"
        (record,) = await TransformRepository.on(catalog).list()
        assert (record.status, record.run_id, record.variation_count) == ("succeeded", run.id, 2)
        assert record.model_used == "black-forest-labs/flux-dev"
        assert [o.variation for o in record.outputs] == [1, 2]
        view = await app.services.engine.get_run(run.id)
        assert view.response is not None
        data = view.response["result"]["data"]
        assert data["transform_id"] == record.id
        assert data["variation_count"] == 2
        scores = data["identity"]["scores"]
        assert [s["variation"] for s in scores] == [1, 2]
        # The photo stayed until the run ended: the outputs were scored against its face (the
        # emulator draws a previz frame, not the person), then the finish deleted it.
        assert [s["passed"] for s in scores] == [False, False]
        assets = await catalog.assets.list(limit=100)
        assert sorted(a.id for a in assets) == sorted(o.asset_id for o in record.outputs)
        assert len((await emulator.ledger("replicate"))["billed"]) == 2
