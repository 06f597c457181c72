"""A segments run is finished by the engine's finish step: its segments are stored, their
records written and the spec's response recorded when the run's last job ends, with nobody
waiting or following, and in another process after the one that started it was killed."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    engine_env,
    engine_settings,
    processes,
    submits,
    wait_for_file,
    wait_for_run_end,
    wait_for_submits,
)
from reelforge.catalog import Catalog, upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.features.segments.repository import SegmentRepository
from segments.segments_support import (
    decoded_seconds,
    fetch_video,
    frame_images,
    request_body,
    segments_harness,
)

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

RUNNER = Path(__file__).resolve().parent / "segments_runner.py"


def _data_uri(colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def test_a_run_nobody_waits_for_is_finished_when_its_last_job_ends(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.5, queue_s=0.05)
    async with segments_harness(tmp_path, emulator_url=emulator_server.base_url) as harness:
        services = harness.services
        urls = await frame_images(services, 3)
        body = request_body([(1, 1), (1, 2), (2, 1)], urls, provider="fal")
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http:
            started = await http.post(
                "/v1/runs", params={"wait_s": 0}, json={"feature": "segments", "input": body}
            )
            assert started.status_code == 202, started.text
            run_id = started.json()["run_id"]
            # Wait on the engine alone: nothing reads or follows the segments.
            view = await harness.engine.wait_for_run(run_id, 30)
            records = await SegmentRepository.on(services.catalog).list_for_run(run_id)
            stored = view.response
            assert stored is not None
            for segment in stored["video_segments"]:
                path = await fetch_video(http, segment["video_url"], tmp_path)
                assert decoded_seconds(path) == pytest.approx(segment["duration_seconds"], abs=0.05)
            read = (await http.get(f"/v1/segments/{run_id}")).json()
    assert view.done
    assert view.status == "succeeded"
    assert stored["run_id"] == run_id
    assert stored["failed_segments"] == []
    assert [s["associated_frames"] for s in stored["video_segments"]] == [
        ["SCENE_1_SHOT_1", "SCENE_1_SHOT_2"],
        ["SCENE_2_SHOT_1"],
    ]
    assert stored["video_segments"][1]["video_url"].endswith(f"/segments/{run_id}/segment_2_1.mp4")
    assert [(r.status, r.job_status) for r in records] == [("ready", "completed")] * 2
    assert sorted(r.job_id for r in records) == sorted(job.id for job in view.jobs)
    assert read == stored


async def test_a_run_is_finished_by_the_next_engine_after_its_starter_is_killed(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=2.0, queue_s=0.05)
    engine = {"executor_id": "segments-crash-host"}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    env = engine_env(settings) | {
        "REELFORGE_SEGMENTS__WIDTH": "320",
        "REELFORGE_SEGMENTS__HEIGHT": "180",
        "REELFORGE_SEGMENTS__POLL_INTERVAL_S": "0.2",
    }
    request = tmp_path / "request.json"
    colours = [(200, 60, 40), (40, 60, 200), (60, 160, 60)]
    body = request_body([(1, 1), (1, 2), (3, 4)], [_data_uri(c) for c in colours], provider="fal")
    request.write_text(json.dumps(body))
    marker = tmp_path / "run_id"
    with processes(tmp_path, env) as group:
        first = group.start("first", str(RUNNER), str(request), str(marker))
        run_id = await wait_for_file(marker)
        # Both segments are at fal (their submits recorded) when their starter dies.
        await wait_for_submits(emulator, 2, timeout_s=45)
        await asyncio.sleep(0.5)
        group.kill(first)
        async with Catalog.from_url(settings.effective_database_url) as catalog:
            segments = SegmentRepository.on(catalog)
            at_kill = await segments.list_for_run(run_id)
            group.worker("second")
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            run = await catalog.runs.get(run_id)
            records = await segments.list_for_run(run_id)
        assert status == "succeeded", group.log("first") + group.log("second")
    assert at_kill == []  # the starter wrote no record: the finish step did, in "second"
    response = run.response
    assert response is not None
    assert response["run_id"] == run_id
    assert response["failed_segments"] == []
    media = tmp_path / "data" / "media"
    names = ("1_1", "3_4")
    for segment, name in zip(response["video_segments"], names, strict=True):
        key = f"projects/proj-1/ep-1/segments/{run_id}/segment_{name}.mp4"
        assert segment["video_url"].endswith(key)
        assert segment["provider_metadata"]["completed_by"] == "poll"
        assert decoded_seconds(media / key) == pytest.approx(segment["duration_seconds"], abs=0.05)
    assert [(r.status, r.job_status) for r in records] == [("ready", "completed")] * 2
    assert [f.frame_id for r in records for f in r.frames] == [
        "SCENE_1_SHOT_1",
        "SCENE_1_SHOT_2",
        "SCENE_3_SHOT_4",
    ]
    assert all(f.asset_id is not None for r in records for f in r.frames)
    # Each generation was submitted and billed once, across the kill.
    assert await submits(emulator) == 2
    fal = (await emulator.ledger("fal"))["providers"]["fal"]
    assert fal["billed"] == 2
