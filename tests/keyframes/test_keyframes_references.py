"""Characters' reference images go with the frames that show them: a workspace character's newest
reference and a profile's own URL (through safe ingest), sent by fal to FLUX Kontext multi and seen
in the emulator's ledger; the local studio takes them too (it draws the characters from them).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from characters.characters_support import MARA
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import EngineHarness, open_engine_harness
from keyframes.keyframes_support import keyframes_settings
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

KONTEXT = "fal-ai/flux-pro/kontext/multi"


def _request(provider: str, profiles: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    frames = [
        ("F1", "Mara looks out to sea from the pilot boat."),
        ("F2", "The harbour at dawn, empty quays, gulls."),
        ("F3", "Toby hands Mara's lamp over the rail."),
    ]
    return {
        "storyboard_frames": [{"frame_id": f, "description": d} for f, d in frames],
        "character_profiles": profiles,
        "render_settings": {"provider": provider, "resolution": "512x288", "seed": 5},
        **extra,
    }


async def _workspace_reference(harness: EngineHarness, http: httpx.AsyncClient) -> dict[str, Any]:
    """A character made in the workspace, and its reference image from the local studio."""
    created = await http.post(f"{harness.base_url}/v1/characters", json=MARA)
    assert created.status_code == 201, created.text
    character_id = created.json()["character"]["id"]
    made = await http.post(
        f"{harness.base_url}/v1/characters/{character_id}/generate-initial-image", timeout=120
    )
    assert made.status_code == 201, made.text
    [image] = made.json()["images"]
    assert image["provider"] == "local"
    return {"character_id": character_id, "asset_id": image["mediaId"]}


async def _served_png(harness: EngineHarness) -> tuple[str, str]:
    """A small PNG of our own served over loopback: its URL, and its bytes' sha256."""
    buffer = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 120, 40)).save(buffer, format="PNG")
    record = await harness.services.assets.ingest_bytes(buffer.getvalue(), source="upload")
    return f"{harness.base_url}/media/{record.key}", record.sha256


async def test_a_workspace_character_s_reference_goes_with_every_frame_that_shows_her(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url, min_frames=1)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        mara = await _workspace_reference(harness, http)
        mara_sha = (await harness.services.catalog.assets.get(mara["asset_id"])).sha256
        toby_url, toby_sha = await _served_png(harness)
        profiles = [
            {
                "name": "Mara Quell",
                "visual_signature": "red scarf",
                "character_id": mara["character_id"],
            },
            {"name": "Toby", "visual_signature": "oilskin hat", "reference_image_url": toby_url},
        ]
        response = await http.post(
            f"{harness.base_url}/v1/keyframes", json=_request("fal", profiles), timeout=120
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["failed_frames"] == []
        models = {f["frame_id"]: f["provider_metadata"]["model"] for f in body["generated_frames"]}
        assert models == {"F1": KONTEXT, "F2": "fal-ai/flux/dev", "F3": KONTEXT}
        jobs = await harness.services.catalog.jobs.list_for_run(body["run_id"])
        by_frame = {job.request["label"]: job for job in jobs}
        toby_asset = by_frame["F3"].request["reference_asset_ids"][1]
        assert (await harness.services.catalog.assets.get(toby_asset)).source == "url"

        # The emulator saw each frame's references, in cast order, as fal's image_urls.
        received = {r["request_id"]: r for r in (await emulator.ledger("fal"))["received"]}
        sent = {
            label: [ref["sha256"] for ref in received[job.provider_request_id]["references"]]
            for label, job in by_frame.items()
        }
        assert sent == {"F1": [mara_sha], "F2": [], "F3": [mara_sha, toby_sha]}
        assert received[by_frame["F2"].provider_request_id]["model"] == "fal-ai/flux/dev"

        # The local studio takes them too (it draws each character from its reference): the
        # plan sends them, nothing falls back to text.
        dry = _request("local", profiles, dry_run=True)
        planned = await http.post(f"{harness.base_url}/v1/keyframes", json=dry)
        assert planned.status_code == 200, planned.text
        frames = {f["frame_id"]: f for f in planned.json()["render_plan"]["frames"]}
        assert frames["F1"]["fallback_to_text"] is False
        assert frames["F1"]["references"] == [mara["asset_id"]]
        assert frames["F1"]["references_left_out"] == []
        assert frames["F1"]["cast"][0]["reference"] == mara["asset_id"]
        assert frames["F2"]["references"] == []
        assert frames["F3"]["references"] == [mara["asset_id"], toby_url]
        assert [c["reference"] for c in frames["F3"]["cast"]] == [mara["asset_id"], toby_url]


async def test_profiles_pointing_at_nothing_are_refused_by_name(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url, min_frames=1)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        url = f"{harness.base_url}/v1/keyframes"
        unknown = [{"name": "Mara", "character_id": "no-such-character"}]
        response = await http.post(url, json=_request("fal", unknown, dry_run=True))
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "INVALID_INPUT"
        assert error["details"]["character"] == "Mara"
        assert error["details"]["field"] == "character_profiles.character_id"
        assert "'Mara'" in error["message"]

        created = await http.post(f"{harness.base_url}/v1/characters", json=MARA)
        bare = [{"name": "Mara", "character_id": created.json()["character"]["id"]}]
        response = await http.post(url, json=_request("fal", bare, dry_run=True))
        assert response.status_code == 400, response.text
        assert "no reference image yet" in response.json()["error"]["message"]

        ftp = [{"name": "Mara", "reference_image_url": "ftp://example.com/mara.png"}]
        response = await http.post(url, json=_request("fal", ftp, dry_run=True))
        assert response.status_code == 400, response.text

        # A fal dry run with a reference URL: planned for Kontext multi, priced per image, and
        # nothing fetched yet.
        given = [{"name": "Mara", "reference_image_url": "https://example.com/mara.png"}]
        response = await http.post(url, json=_request("fal", given, dry_run=True))
        assert response.status_code == 200, response.text
        plan = response.json()
        frames = plan["render_plan"]["frames"]
        assert [f["model"] for f in frames] == [KONTEXT, None, KONTEXT]
        assert [f["references"] for f in frames] == [
            ["https://example.com/mara.png"],
            [],
            ["https://example.com/mara.png"],
        ]
        assert [job["model"] for job in plan["per_job"]] == [KONTEXT, "fal-ai/flux/dev", KONTEXT]
    assert (await emulator.ledger("fal"))["calls"] == []


async def test_a_workspace_character_brings_her_360_set_after_every_cast_member_s_reference(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url, min_frames=1)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        mara = await _workspace_reference(harness, http)
        character = f"{harness.base_url}/v1/characters/{mara['character_id']}"
        images = (await http.get(f"{character}/images")).json()["images"]
        [reference] = [image for image in images if image["mediaId"] == mara["asset_id"]]
        made = await http.post(
            f"{character}/generate-360-set", json={"referenceImageId": reference["id"]}, timeout=300
        )
        assert made.status_code == 201, made.text
        views = {view["mediaId"] for view in made.json()["images"]}
        assert len(views) == 8
        toby_url, _ = await _served_png(harness)
        profiles = [
            {"name": "Mara Quell", "character_id": mara["character_id"]},
            {"name": "Toby", "reference_image_url": toby_url},
        ]
        # fal takes 4 a frame: the cast's own references first, then the 360° set's views.
        dry = _request("fal", profiles, dry_run=True)
        planned = await http.post(f"{harness.base_url}/v1/keyframes", json=dry)
        assert planned.status_code == 200, planned.text
        frames = {f["frame_id"]: f for f in planned.json()["render_plan"]["frames"]}
        f1, f3 = frames["F1"], frames["F3"]
        assert f1["references"][0] == mara["asset_id"]
        assert len(f1["references"]) == 4
        assert set(f1["references"][1:] + f1["references_left_out"]) == views
        assert f3["references"][:2] == [mara["asset_id"], toby_url]
        assert len(f3["references"]) == 4
        assert set(f3["references"][2:] + f3["references_left_out"]) == views
        # the same views, in the same order, in every frame
        assert f1["references"][1:3] == f3["references"][2:]
        assert [c["reference"] for c in f3["cast"]] == [mara["asset_id"], toby_url]
