"""``POST /v1/keyframes`` end to end: the engine in process, fal on the emulator, webhooks to the
served API, images decoded back. Retries, failures, timeouts, order, 202, hot reload, metrics."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import httpx

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import open_engine_harness
from keyframes.keyframes_support import decode_image, keyframes_settings, spec_example, storyboard
from reelforge.emulator import EmulatorServer
from reelforge.prompts.library import BUNDLED_TEMPLATES

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


async def _post(
    http: httpx.AsyncClient, base_url: str, body: dict[str, Any], **params: Any
) -> httpx.Response:
    return await http.post(f"{base_url}/v1/keyframes", json=body, params=params, timeout=60)


async def test_the_spec_example_round_trips_over_rest(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        response = await _post(http, harness.base_url, spec_example())
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["failed_frames"] == []
        [frame] = body["generated_frames"]
        assert frame["frame_id"] == "SCENE_1_SHOT_1"
        assert frame["provider_metadata"] == {
            "seed": 123456,
            "model": "fal-ai/flux-pro/v1.1",
            "steps": 24,
            "inference_time_ms": frame["provider_metadata"]["inference_time_ms"],
            "provider": "fal",
            "retry_count": 0,
        }
        assert isinstance(frame["provider_metadata"]["inference_time_ms"], int)
        assert "watermark" in frame["negative_prompts"]
        image = await decode_image(
            http, harness.base_url, harness.services.settings, frame["image_url"]
        )
        assert image.size == (1280, 720)  # 16:9 at the default cap

        run = (await http.get(f"{harness.base_url}/v1/runs/{body['run_id']}")).json()
        assert run["feature"] == "keyframes"
        assert run["response"] == body
        [job] = await harness.services.catalog.jobs.list_for_run(body["run_id"])
        assert job.template_name == "keyframes"
        assert job.template_version == 1
        assert job.request["seed"] == 123456
        assert job.request["guidance_scale"] == 4.5
        assert job.prompt is not None
        assert "Featuring string (string)." in job.prompt
    ledger = await emulator.ledger("fal")
    assert [b["model"] for b in ledger["billed"]] == ["fal-ai/flux-pro/v1.1"]


async def test_retries_then_success_then_exhausted_then_a_refusal(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        # Fails twice, then succeeds: returned, with retry_count 2.
        await emulator.inject("fal", "submit", "http_500", count=2)
        body = (await _post(http, harness.base_url, storyboard(1))).json()
        [frame] = body["generated_frames"]
        assert frame["provider_metadata"]["retry_count"] == 2
        assert body["failed_frames"] == []

        # Fails three times: the policy allows two retries, so the frame fails.
        await emulator.inject("fal", "submit", "http_503", count=3)
        body = (await _post(http, harness.base_url, storyboard(1, seed=7))).json()
        assert body["generated_frames"] == []
        assert body["failed_frames"] == [
            {"frame_id": "SCENE_1_SHOT_1", "error": "provider_unavailable"}
        ]
        failed_run = await harness.engine.get_run(body["run_id"])
        assert failed_run.jobs[0].attempts == 0  # never accepted by the provider

        # Not retryable: a refusal of the input fails at once.
        await emulator.inject("fal", "submit", "invalid_input", count=1)
        body = (await _post(http, harness.base_url, storyboard(1, seed=9))).json()
        assert body["failed_frames"] == [
            {"frame_id": "SCENE_1_SHOT_1", "error": "provider_invalid_input"}
        ]
        events = await harness.engine.events(body["run_id"])
        assert not [e for e in events if e.kind == "job_retrying"]

        metrics = (await http.get(f"{harness.base_url}/metrics")).text
    submits = (await emulator.ledger("fal"))["providers"]["fal"]["calls"]["submit"]
    assert submits == 3 + 3 + 1
    assert 'image_generation_retry_count_total{provider="fal"} 4.0' in metrics
    assert 'image_generation_frames_total{outcome="succeeded",provider="fal"} 1.0' in metrics
    assert 'image_generation_frames_total{outcome="failed",provider="fal"} 2.0' in metrics
    assert 'image_generation_success_rate{provider="fal"} 0.3333333333333333' in metrics
    assert "image_generation_avg_latency_ms{" in metrics


async def test_a_frame_past_the_timeout_fails_with_provider_timeout(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=30.0, queue_s=0.05)
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url, timeout_s=0.5)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        body = (await _post(http, harness.base_url, storyboard(1))).json()
    assert body["generated_frames"] == []
    assert body["failed_frames"] == [{"frame_id": "SCENE_1_SHOT_1", "error": "provider_timeout"}]
    calls = (await emulator.ledger("fal"))["providers"]["fal"]["calls"]
    assert calls["submit"] == 1  # a timeout is not resubmitted (it may still be billed)
    assert calls.get("cancel", 0) == 1  # it was stopped at the provider


async def test_the_response_keeps_request_order_whatever_finishes_first(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    # Each completion webhook gets its own delay, in shuffled order; polls are too slow to
    # matter, so the frames finish in a random order.
    delays = [round(0.15 * i, 2) for i in range(8)]
    random.Random(7).shuffle(delays)
    await emulator.configure(
        latency_s=0.1,
        queue_s=0.02,
        faults=[
            {"provider": "fal", "operation": "webhook", "kind": "delayed", "delay_s": d, "count": 1}
            for d in delays
        ],
    )
    settings = keyframes_settings(
        tmp_path / "data", emulator_server.base_url, min_frames=6, poll_interval_s=10.0
    )
    body_in = storyboard(8)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        body = (await _post(http, harness.base_url, body_in)).json()
        events = await harness.engine.events(body["run_id"])
        run = await harness.engine.get_run(body["run_id"])
        labels = {job.id: str(job.label) for job in run.jobs}
    requested = [f["frame_id"] for f in body_in["storyboard_frames"]]
    finished = [labels[e.job_id] for e in events if e.kind == "job_succeeded" and e.job_id]
    assert sorted(finished) == sorted(requested)
    assert finished != requested  # they really did finish out of order
    assert [f["frame_id"] for f in body["generated_frames"]] == requested
    seeds = [f["provider_metadata"]["seed"] for f in body["generated_frames"]]
    assert seeds == [100 + i for i in range(8)]  # seed + frame index


async def test_a_slow_render_answers_202_and_the_result_comes_later(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.5, queue_s=0.05)
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        accepted = await _post(http, harness.base_url, storyboard(2), wait_s=0)
        assert accepted.status_code == 202, accepted.text
        pending = accepted.json()
        run_id = pending["run_id"]
        assert pending["done"] is False
        assert pending["total_frames"] == 2
        assert accepted.headers["location"] == f"{harness.base_url}/v1/keyframes/{run_id}"
        done = await http.get(f"{harness.base_url}/v1/keyframes/{run_id}", params={"wait_s": 30})
        assert done.status_code == 200, done.text
        assert [f["frame_id"] for f in done.json()["generated_frames"]] == [
            "SCENE_1_SHOT_1",
            "SCENE_1_SHOT_2",
        ]
        run = (await http.get(f"{harness.base_url}/v1/runs/{run_id}")).json()
        assert run["response"] == done.json()
        missing = await http.get(f"{harness.base_url}/v1/keyframes/no-such-run")
        assert missing.status_code == 404


async def test_a_template_edited_on_disk_changes_the_next_runs_prompts(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    mine = folder / "keyframes.toml"
    shutil.copyfile(BUNDLED_TEMPLATES / "keyframes.toml", mine)
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url)
    settings = settings.model_copy(
        update={"prompts": settings.prompts.model_copy(update={"templates_dir": folder})}
    )
    request = storyboard(1, provider="local")
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        first = (await _post(http, harness.base_url, request)).json()
        text = mine.read_text(encoding="utf-8")
        mine.write_text(
            text.replace("Cinematic storyboard key frame", "Watercolour storybook page"),
            encoding="utf-8",
        )
        second = (await _post(http, harness.base_url, request)).json()
        [before] = await harness.services.catalog.jobs.list_for_run(first["run_id"])
        [after] = await harness.services.catalog.jobs.list_for_run(second["run_id"])
        stored = await harness.services.catalog.templates.get("keyframes", 2)
    assert before.prompt is not None
    assert before.prompt.startswith("Cinematic storyboard key frame")
    assert after.prompt is not None
    assert after.prompt.startswith("Watercolour storybook page")
    assert (before.template_version, after.template_version) == (1, 2)
    assert "Watercolour storybook page" in stored.body
    assert second["generated_frames"][0]["provider_metadata"]["model"] == "reelforge-previz-1"
    assert second["generated_frames"][0]["provider_metadata"]["steps"] == 0


async def test_metrics_count_a_run_when_it_ends_even_if_nobody_reads_it(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        before = (await http.get(f"{harness.base_url}/metrics")).text
        assert 'image_generation_frames_total{outcome="succeeded",provider="fal"}' not in before
        accepted = await _post(http, harness.base_url, storyboard(3), wait_s=0)
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]
        # Wait on the engine alone: nothing reads the keyframes result.
        view = await harness.engine.wait_for_run(run_id, 30)
        assert view.done
        assert view.response is not None  # stored by the finish step
        after = (await http.get(f"{harness.base_url}/metrics")).text
    assert 'image_generation_frames_total{outcome="succeeded",provider="fal"} 3.0' in after
    assert 'image_generation_success_rate{provider="fal"} 1.0' in after
