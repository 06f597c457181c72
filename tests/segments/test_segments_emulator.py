"""Segments on fal's image-to-video through the emulator and the engine, over the served API:
webhook first, poll first, pending past the cap then finished by a late webhook, and provider
errors that are final (no retry) while the other segments are returned. Every ``video_url`` is
fetched from the API and decoded; its length matches ``duration_seconds``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import CapturedLogs, EmulatorControl
from fixtures.engine import wait_until
from reelforge.budget.scopes import BudgetScope
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
captured_logs = emulator_fixtures.captured_logs

MODEL = "fal-ai/veo3.1/image-to-video"


async def _assert_videos_decode(
    http: httpx.AsyncClient, segments: list[dict[str, Any]], folder: Path
) -> list[float]:
    """Each segment's file fetched over HTTP and decoded; its measured length returned."""
    lengths = []
    for segment in segments:
        path = await fetch_video(http, segment["video_url"], folder)
        measured = decoded_seconds(path)
        assert measured == pytest.approx(segment["duration_seconds"], abs=0.05)
        lengths.append(measured)
    return lengths


async def test_webhook_first_then_the_run_is_assembled(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    async with segments_harness(
        tmp_path, emulator_url=emulator_server.base_url, poll_interval_s=30.0
    ) as harness:
        services = harness.services
        urls = await frame_images(services, 4)
        frame_assets = [
            (await services.catalog.assets.get_by_key(url.split("/media/", 1)[1])).id
            for url in urls
        ]
        body = request_body([(1, 1), (1, 2), (2, 1), (2, 2)], urls, provider="fal-ai")
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http:
            response = await http.post("/v1/segments", json=body)
            assert response.status_code == 200, response.text
            answer = response.json()
            location = f"{harness.base_url}/v1/segments/{answer['run_id']}"
            assert response.headers["location"] == location
            segments = answer["video_segments"]
            lengths = await _assert_videos_decode(http, segments, tmp_path)
            preview = (await http.post(f"/v1/runs/{answer['run_id']}/assemble")).json()
            preview_path = await fetch_video(http, preview["video_url"], tmp_path)
        records = await SegmentRepository.on(services.catalog).list_for_run(answer["run_id"])
        run = await services.catalog.runs.get(answer["run_id"])
    assert answer["failed_segments"] == []
    assert [s["segment_id"] for s in segments] == ["SEGMENT_1", "SEGMENT_2"]
    assert segments[1]["associated_frames"] == ["SCENE_2_SHOT_1", "SCENE_2_SHOT_2"]
    for segment in segments:
        metadata = segment["provider_metadata"]
        assert metadata["provider"] == "fal"
        assert metadata["model"] == MODEL
        assert metadata["completed_by"] == "webhook"
        assert metadata["webhook_id"]
        assert metadata["job_id"]
        # fal takes a first frame only.
        assert metadata["key_frames"] == 1
    assert segments[0]["video_url"] == (
        f"{harness.base_url}/media/projects/proj-1/ep-1/segments/{answer['run_id']}/segment_1_1.mp4"
    )
    # Our own store's frames were found in the catalog, not fetched again.
    assert [f.asset_id for r in records for f in r.frames] == frame_assets
    assert all(r.job_status == "completed" for r in records)
    assert all(any(e["kind"] == "webhook" for e in r.webhook_events) for r in records)
    assert run.input["grouping"]["segments"][0]["reason"] == "2 consecutive shots of scene 1"
    assert run.response == answer
    # Stream copy: every emulated clip has the same codec parameters.
    assert preview["method"] == "stream_copy"
    assert preview["segments"] == ["SEGMENT_1", "SEGMENT_2"]
    assert decoded_seconds(preview_path) == pytest.approx(sum(lengths), abs=0.1)
    assert preview["duration_seconds"] == pytest.approx(sum(lengths), abs=0.1)
    ledger = await emulator.ledger("fal")
    assert ledger["providers"]["fal"]["calls"].get("status", 0) == 0
    assert ledger["providers"]["fal"]["billed"] == 2


async def test_poll_first_when_the_webhook_is_late(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    await emulator.inject("fal", "webhook", "delayed", delay_s=3.0, count=None)
    async with segments_harness(tmp_path, emulator_url=emulator_server.base_url) as harness:
        urls = await frame_images(harness.services, 1)
        body = request_body([(4, 2)], urls, provider="fal")
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http:
            answer = (await http.post("/v1/segments", json=body)).json()
            await _assert_videos_decode(http, answer["video_segments"], tmp_path)
    (segment,) = answer["video_segments"]
    assert segment["provider_metadata"]["completed_by"] == "poll"
    assert segment["provider_metadata"]["webhook_id"] is None
    assert segment["video_url"].endswith(f"/segments/{answer['run_id']}/segment_4_2.mp4")


async def test_pending_past_the_cap_then_finished_by_a_late_webhook(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    captured_logs: CapturedLogs,
) -> None:
    await emulator.configure(latency_s=2.5, queue_s=0.05)
    async with segments_harness(
        tmp_path,
        emulator_url=emulator_server.base_url,
        wait_cap_s=0.4,
        after_cap_interval_s=60.0,
    ) as harness:
        services = harness.services
        urls = await frame_images(services, 2)
        body = request_body([(1, 1), (1, 2)], urls, provider="fal")
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http:
            answer = (await http.post("/v1/segments", json=body)).json()
            run_id = answer["run_id"]
            early = await SegmentRepository.on(services.catalog).list_for_run(run_id)

            async def settled() -> bool:
                # The run's stored response is updated last, after the segment's record.
                stored = (await services.catalog.runs.get(run_id)).response
                return stored is not None and stored["failed_segments"] == []

            # Nobody reads the run: its finish settles the segment when the webhook lands.
            await wait_until(settled, 20)
            late = await SegmentRepository.on(services.catalog).list_for_run(run_id)
            stored = (await services.catalog.runs.get(run_id)).response
            events = [e.kind for e in await services.engine.events(run_id)]
            read = (await http.get(f"/v1/segments/{run_id}")).json()
            await _assert_videos_decode(http, read["video_segments"], tmp_path)
    assert answer["video_segments"] == []
    assert [f["error"] for f in answer["failed_segments"]] == ["provider_pending"]
    assert "still generating" in answer["failed_segments"][0]["message"]
    assert early[0].status == "pending"
    assert early[0].job_status == "pending"
    assert late[0].job_status == "completed"
    assert late[0].provider_metadata["completed_by"] == "webhook"
    assert stored is not None
    assert stored["failed_segments"] == []
    assert stored == read
    assert events.index("job_pending") < events.index("job_succeeded")
    assert "segments.segment_completed_late" in captured_logs.text()
    assert (await emulator.ledger("fal"))["providers"]["fal"]["billed"] == 1


async def test_provider_errors_are_final_and_the_other_segments_are_returned(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    # A retryable refusal at submit, and a generation that fails at fal: neither is retried.
    await emulator.inject("fal", "submit", "http_503", count=1)
    await emulator.inject("fal", "generate", "failed", count=1)
    async with segments_harness(tmp_path, emulator_url=emulator_server.base_url) as harness:
        services = harness.services
        urls = await frame_images(services, 3)
        body = request_body([(1, 1), (2, 1), (3, 1)], urls, provider="fal")
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http:
            answer = (await http.post("/v1/segments", json=body)).json()
            await _assert_videos_decode(http, answer["video_segments"], tmp_path)
        engine = services.engine
        assert engine is not None
        # The answer comes once every job has ended; the run records its outcome just after.
        view = await engine.wait_for_run(answer["run_id"], timeout_s=30)
        events = [e.kind for e in await engine.events(answer["run_id"])]
        ledger_entries = await services.budget.ledger(scope=BudgetScope("project", "proj-1"))
        balance = await services.budget.balance(BudgetScope("episode", "ep-1"))
    assert len(answer["video_segments"]) == 1
    # Both failures are of the retryable kind (503, runner disconnected): still not retried.
    assert [f["error"] for f in answer["failed_segments"]] == ["provider_unavailable"] * 2
    assert len({f["message"] for f in answer["failed_segments"]}) == 2
    assert view.status == "partial"
    # The refused submit never ran; the others ran once.
    assert sorted(job.attempts for job in view.jobs) == [0, 1, 1]
    assert "job_retrying" not in events
    fal = (await emulator.ledger("fal"))["providers"]["fal"]
    assert fal["calls"]["submit"] == 3
    assert fal["billed"] == 1
    # Our budget: the one success is spent, once; the failures were given back.
    kinds = sorted(entry.kind for entry in ledger_entries)
    assert kinds.count("settle") == 1
    assert kinds.count("release") == kinds.count("reserve") - 1
    succeeded = next(job for job in view.jobs if job.status == "succeeded")
    assert balance.spent_usd == Decimal(str(succeeded.cost_usd))
    assert balance.reserved_usd == 0
