"""A segment whose clip was made and billed, but whose download keeps failing, is reported for
what it is (``output_retrying``, not the provider's ``provider_pending``) while the engine tries
again, and the user can stop it: cancelling its job ends the segment ``canceled``, billed once.
Against fal in the emulator, whose output file answers 404 for the whole test."""

from __future__ import annotations

from pathlib import Path

import httpx

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import wait_until
from reelforge.emulator import EmulatorServer
from segments.segments_support import frame_images, request_body, segments_harness

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


async def test_a_failing_download_is_reported_as_such_and_can_be_stopped(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.02)
    await emulator.configure(
        faults=[{"provider": "fal", "operation": "file", "kind": "http_404", "count": None}]
    )
    async with segments_harness(
        tmp_path,
        emulator_url=emulator_server.base_url,
        wait_cap_s=2.0,
        engine_overrides={"paid_output_retry_s": 600.0},
    ) as harness:
        urls = await frame_images(harness.services, 1)
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http:
            body = request_body([(1, 1)], urls, provider="fal")
            answer = (await http.post("/v1/segments", json=body)).json()
            run_id = answer["run_id"]
            (reported,) = answer["failed_segments"]
            job_id = (await harness.services.catalog.jobs.list_for_run(run_id))[0].id
            stopped = await http.post(f"/v1/jobs/{job_id}/cancel")

            async def settled() -> bool:
                read = (await http.get(f"/v1/segments/{run_id}")).json()
                return bool(read["failed_segments"][0]["error"] != "output_retrying")

            await wait_until(settled, 30)
            final = (await http.get(f"/v1/segments/{run_id}")).json()
    assert answer["video_segments"] == []
    assert reported["error"] == "output_retrying"
    assert "billed" in reported["message"]
    assert f"/v1/jobs/{job_id}/cancel" in reported["message"]
    assert stopped.status_code == 200, stopped.text
    assert final["failed_segments"][0]["error"] == "canceled"
    assert (await emulator.ledger("fal"))["providers"]["fal"]["billed"] == 1
