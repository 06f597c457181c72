"""Callbacks that arrive before the job has saved the provider's request id (issue: 8 of 33
fal webhooks were recorded ``unknown`` and never delivered, so a 3-segment run finished by the
poll instead of the webhook). The emulator holds fal's answer to each submit while the
generation runs and calls back; each callback must be kept in its job's history and delivered
once the job knows its request id: every segment completed by webhook, no status poll made."""

from __future__ import annotations

from pathlib import Path

import httpx

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer
from segments.segments_support import frame_images, request_body, segments_harness

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

HOLD_S = 1.5


async def test_callbacks_before_the_request_id_is_saved_complete_their_segments(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    # Each answer to a submit is held past the generation and its callback.
    await emulator.inject("fal", "submit", "hold_accept", delay_s=HOLD_S, count=3)
    async with segments_harness(
        tmp_path, emulator_url=emulator_server.base_url, poll_interval_s=60.0
    ) as harness:
        services = harness.services
        urls = await frame_images(services, 3)
        body = request_body([(1, 1), (2, 1), (3, 1)], urls, provider="fal")
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=90) as http:
            response = await http.post("/v1/segments", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        histories = {
            s["segment_id"]: await services.catalog.jobs.events(s["provider_metadata"]["job_id"])
            for s in answer["video_segments"]
        }
    assert answer["failed_segments"] == []
    assert len(answer["video_segments"]) == 3
    for segment in answer["video_segments"]:
        assert segment["provider_metadata"]["completed_by"] == "webhook"
        history = histories[segment["segment_id"]]
        kinds = [(e.kind, e.status) for e in history]
        # Kept in the job's audit trail before the job knew its request id.
        assert kinds.index(("webhook", None)) < kinds.index(("status", "running"))
        early = next(e for e in history if e.kind == "webhook")
        assert early.payload["outcome"] == "delivered"
    fal = (await emulator.ledger("fal"))["providers"]["fal"]
    assert fal["calls"].get("status", 0) == 0
    assert fal["billed"] == 3
