"""The 1280x720 cap holds for outputs: Gemini (on the emulator) answers 1368x768 for 16:9, and the
frame comes back scaled down to fit, said so in the response and in the job's history, the
original kept. End to end over REST, the engine in process, images decoded back."""

from __future__ import annotations

from pathlib import Path

import httpx

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import FAL_ENV, open_engine_harness
from keyframes.keyframes_support import decode_image, keyframes_settings, storyboard
from reelforge.emulator import EmulatorServer
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

GOOGLE_ENV = {**FAL_ENV, "GEMINI_API_KEY": "emulator-gemini-key"}


def gemini_settings(data_dir: Path, emulator_url: str) -> Settings:
    settings = keyframes_settings(data_dir, emulator_url)
    providers = {**settings.providers, "google": {"base_url": f"{emulator_url}/google"}}
    return settings.model_copy(update={"providers": providers})


async def test_a_frame_over_the_cap_is_scaled_down_and_said_so(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    settings = gemini_settings(tmp_path / "data", emulator_server.base_url)
    body = storyboard(1, provider="gemini")
    body["render_settings"].pop("resolution")  # 16:9 at the cap: 1280x720 asked
    async with (
        open_engine_harness(settings, environ=GOOGLE_ENV) as harness,
        httpx.AsyncClient() as http,
    ):
        response = await http.post(f"{harness.base_url}/v1/keyframes", json=body, timeout=60)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["failed_frames"] == []
        [frame] = answer["generated_frames"]
        image = await decode_image(
            http, harness.base_url, harness.services.settings, frame["image_url"]
        )
        assert image.size == (1280, 719)  # 1368x768 fitted, aspect ratio kept
        [job] = await harness.services.catalog.jobs.list_for_run(answer["run_id"])
        [original_id] = job.asset_ids
        original = await harness.services.catalog.assets.get(original_id)
        assert (original.width, original.height) == (1368, 768)  # the provider's, kept
        downscaled = {
            "original_width": 1368,
            "original_height": 768,
            "width": 1280,
            "height": 719,
            "max_width": 1280,
            "max_height": 720,
            "original_asset_id": original_id,
        }
        assert frame["downscaled"] == downscaled

        notes = [
            e.payload["downscaled"]
            for e in await harness.services.catalog.jobs.events(job.id)
            if e.kind == "note" and "downscaled" in e.payload
        ]
        fitted = await harness.services.catalog.assets.get(notes[0]["asset_id"])
        assert notes == [{**downscaled, "asset_id": fitted.id}]
        assert frame["image_url"].endswith(fitted.key)
        assert (fitted.width, fitted.height) == (1280, 719)

        # Finishing again (a replayed step) finds the same copy and notes nothing new.
        again = await harness.engine.finish_again(answer["run_id"])
        assert again.response == answer
        events = await harness.services.catalog.jobs.events(job.id)
        assert sum(1 for e in events if e.kind == "note" and "downscaled" in e.payload) == 1
