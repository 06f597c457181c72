"""Features through the ComfyUI provider on its emulator, over REST: key frames (with their
progress in the run's events and on its SSE stream), segments from key frames, and key frames
whose character's reference image goes to the reference workflow."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av
import httpx

from characters.characters_support import MARA
from fixtures import emulator as emulator_fixtures
from fixtures.comfyui import comfyui_settings
from fixtures.emulator import EmulatorControl
from fixtures.engine import open_engine_harness
from keyframes.keyframes_support import decode_image, keyframes_settings, storyboard
from reelforge.emulator import EmulatorServer
from reelforge.settings import Settings
from segments.segments_support import frame_images, request_body, segments_harness

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _with_comfyui(settings: Settings, emulator_url: str) -> Settings:
    providers = {**settings.providers, "comfyui": comfyui_settings(emulator_url)}
    return settings.model_copy(update={"providers": providers})


async def _sse_kinds(http: httpx.AsyncClient, base_url: str, run_id: str) -> list[str]:
    """The kinds of every event of a finished run's stream, as a browser's EventSource sees."""
    kinds = []
    async with http.stream("GET", f"{base_url}/v1/runs/{run_id}/stream", timeout=30) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                kinds.append(line.partition(":")[2].strip())
    return kinds


async def test_key_frames_are_made_by_comfyui_with_their_progress_reported(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    settings = _with_comfyui(
        keyframes_settings(tmp_path / "data", emulator_server.base_url),
        emulator_server.base_url,
    )
    body = storyboard(2, provider="comfyui")
    body["render_settings"]["steps"] = 8
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        response = await http.post(f"{harness.base_url}/v1/keyframes", json=body, timeout=120)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["failed_frames"] == []
        for frame in answer["generated_frames"]:
            assert frame["provider_metadata"]["provider"] == "comfyui"
            assert frame["provider_metadata"]["model"] == "text_to_image"
            image = await decode_image(
                http, harness.base_url, harness.services.settings, frame["image_url"]
            )
            assert image.size == (512, 288)
        events = await harness.services.catalog.run_events.after(answer["run_id"], 0)
        progress = [e for e in events if e.kind == "job_progress"]
        assert progress
        assert all(0 < e.payload["percent"] <= 100 for e in progress)
        assert all(e.payload["message"].endswith("of 8") for e in progress)
        assert {e.job_id for e in progress} <= {e.job_id for e in events if e.job_id}
        assert "job_progress" in await _sse_kinds(http, harness.base_url, answer["run_id"])
    ledger = await emulator.ledger("comfyui")
    assert ledger["providers"]["comfyui"]["calls"]["submit"] == 2
    assert ledger["providers"]["comfyui"]["billed_usd"] == "0"


async def test_segments_are_made_by_comfyui_from_key_frames(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    async with segments_harness(
        tmp_path,
        emulator_url=emulator_server.base_url,
        providers={"comfyui": comfyui_settings(emulator_server.base_url)},
    ) as harness:
        urls = await frame_images(harness.services, 2)
        body = request_body([(1, 1), (2, 1)], urls, provider="comfyui")
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=120) as http:
            response = await http.post("/v1/segments", json=body)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["failed_segments"] == []
            for segment in answer["video_segments"]:
                assert segment["provider_metadata"]["provider"] == "comfyui"
                video = await http.get(segment["video_url"])
                assert video.status_code == 200
                path = tmp_path / f"{segment['segment_id']}.mp4"
                path.write_bytes(video.content)
                with av.open(str(path)) as container:
                    assert sum(1 for _ in container.decode(video=0)) > 0
    ledger = await emulator.ledger("comfyui")
    uploads = ledger["providers"]["comfyui"]["calls"]["upload"]
    assert uploads == 2  # each segment's key frame went up through /upload/image
    assert {r["model"] for r in ledger["received"]} == {"image_to_video"}


async def test_a_character_s_reference_goes_to_the_reference_workflow(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.02)
    settings = _with_comfyui(
        keyframes_settings(tmp_path / "data", emulator_server.base_url),
        emulator_server.base_url,
    )
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        created = await http.post(f"{harness.base_url}/v1/characters", json=MARA)
        character_id = created.json()["character"]["id"]
        made = await http.post(
            f"{harness.base_url}/v1/characters/{character_id}/generate-initial-image", timeout=120
        )
        assert made.status_code == 201, made.text
        [image] = made.json()["images"]
        reference_sha = (await harness.services.catalog.assets.get(image["mediaId"])).sha256
        body: dict[str, Any] = {
            "storyboard_frames": [
                {"frame_id": "F1", "description": "Mara looks out to sea from the pilot boat."},
                {"frame_id": "F2", "description": "The harbour at dawn, empty quays, gulls."},
            ],
            "character_profiles": [
                {
                    "name": "Mara Quell",
                    "visual_signature": "red scarf",
                    "character_id": character_id,
                }
            ],
            "render_settings": {"provider": "comfyui", "resolution": "512x288", "seed": 5},
        }
        response = await http.post(f"{harness.base_url}/v1/keyframes", json=body, timeout=120)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["failed_frames"] == []
        models = {
            f["frame_id"]: f["provider_metadata"]["model"] for f in answer["generated_frames"]
        }
        assert models == {"F1": "reference", "F2": "text_to_image"}
    received = (await emulator.ledger("comfyui"))["received"]
    sent = {r["model"]: [ref.get("sha256") for ref in r["references"]] for r in received}
    # The workflow has two reference slots: the one reference fills both.
    assert sent == {"reference": [reference_sha, reference_sha], "text_to_image": []}


async def test_canceling_a_run_interrupts_the_running_prompt(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=30.0, queue_s=0.05)
    settings = _with_comfyui(
        keyframes_settings(tmp_path / "data", emulator_server.base_url),
        emulator_server.base_url,
    )
    body = storyboard(1, provider="comfyui")
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        started = await http.post(
            f"{harness.base_url}/v1/runs", json={"feature": "keyframes", "input": body}
        )
        run_id = started.json()["run_id"]
        async with asyncio.timeout(30):
            # Running at ComfyUI: its first step has been reported.
            while not any(
                e.kind == "job_progress"
                for e in await harness.services.catalog.run_events.after(run_id, 0)
            ):
                await asyncio.sleep(0.1)
        canceled = await http.post(f"{harness.base_url}/v1/runs/{run_id}/cancel")
        assert canceled.status_code == 200, canceled.text
    ledger = await emulator.ledger("comfyui")
    operations = [c["operation"] for c in ledger["calls"]]
    assert "interrupt" in operations
    assert ledger["providers"]["comfyui"]["in_flight"] == 0
