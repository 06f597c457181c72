"""Segments name their characters and say what becomes of their reference images: profiles (a
workspace ``character_id``, a ``reference_image_url``) are matched to the segments whose frames
name them; no hosted image-to-video provider takes reference images today (see
docs/providers.md), so fal's segments fall back to the text, which the plan says per segment and
the emulator's ledger shows (no references received, the look in the prompt). A profile pointing
at no character is refused by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from characters.characters_support import MARA
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import EngineHarness
from reelforge.emulator import EmulatorServer
from reelforge.features.characters.repository import CharacterRepository
from segments.segments_support import frame_images, request_body, segments_harness

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

SHOTS = [(1, 1), (1, 2), (2, 1)]


async def _mara(harness: EngineHarness, http: httpx.AsyncClient) -> dict[str, str]:
    """Mara in the workspace, with a reference image."""
    created = await http.post("/v1/characters", json=MARA)
    assert created.status_code == 201, created.text
    character_id = created.json()["character"]["id"]
    [url] = await frame_images(harness.services, 1, size=(96, 96))
    asset = await harness.services.catalog.assets.get_by_key(url.split("/media/", 1)[1])
    await CharacterRepository.on(harness.services.catalog).add_image(
        character_id=character_id,
        asset_id=asset.id,
        kind="reference",
        provider="local",
        prompt="Mara, front view",
    )
    return {"id": character_id, "asset_id": asset.id}


def _profiles(mara: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"name": "Mara Quell", "visual_signature": "red scarf", "character_id": mara["id"]},
        {"name": "Toby", "reference_image_url": "https://example.com/toby.png"},
    ]


async def test_segments_name_their_cast_and_fall_back_to_text_on_fal(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with segments_harness(tmp_path, emulator_url=emulator_server.base_url) as harness:
        urls = await frame_images(harness.services, len(SHOTS))
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=120) as http:
            mara = await _mara(harness, http)
            body = request_body(SHOTS, urls, provider="fal-ai", character_profiles=_profiles(mara))

            planned = await http.post("/v1/segments", json={**body, "dry_run": True})
            assert planned.status_code == 200, planned.text
            segments = planned.json()["segments"]
            assert [s["characters"] for s in segments] == [["Mara Quell"], ["Mara Quell"]]
            for segment in segments:
                assert segment["references"] == []
                assert segment["references_left_out"] == [mara["asset_id"]]
                assert segment["fallback_to_text"] is True
                assert segment["prompt"].endswith("Characters: Mara Quell (red scarf).")

            # Toby's URL is not reachable from here: the run names Mara alone.
            body["character_profiles"] = body["character_profiles"][:1]
            response = await http.post("/v1/segments", json=body)
            assert response.status_code == 200, response.text
            assert response.json()["failed_segments"] == []
        received = (await emulator.ledger("fal"))["received"]
        assert len(received) == 2
        assert all(r["references"] == [] for r in received)
        jobs = await harness.services.catalog.jobs.list_for_run(response.json()["run_id"])
        assert all("Mara Quell (red scarf)" in (job.request.get("prompt") or "") for job in jobs)


async def test_a_profile_pointing_at_no_character_is_refused_by_name(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    async with segments_harness(tmp_path, emulator_url=emulator_server.base_url) as harness:
        urls = await frame_images(harness.services, len(SHOTS))
        profiles = [{"name": "Mara Quell", "character_id": "no-such-character"}]
        body = request_body(SHOTS, urls, provider="fal-ai", character_profiles=profiles)
        async with httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http:
            response = await http.post("/v1/segments", json={**body, "dry_run": True})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "INVALID_INPUT"
        assert error["details"]["field"] == "character_profiles.character_id"
        assert error["details"]["character"] == "Mara Quell"
    assert (await emulator.ledger("fal"))["calls"] == []
