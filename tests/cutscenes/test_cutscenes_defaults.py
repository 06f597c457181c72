"""Issue #20: the cutscenes' default settings make clips, and settings that never could are
refused when saved.

Google Veo through the emulator: at the defaults (no model named, 6 s clips, $2.00 a session) a
cutscene gets its clip; the spec's own settings (``veo-3.0-generate-preview``, 6 s, $2.00) are
refused with the fields to change and the clip length that fits, and make clips once it is set.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import httpx

from cutscenes.cutscenes_support import CAMPAIGN, Api, open_api, wait_for_cutscene
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

#: The cutscenes spec's ``media_generation`` block (its clips are 6 s: ``generate_video``).
SPEC_SETTINGS = {
    "enabled": True,
    "budget_per_session_usd": "2.00",
    "image_provider": "google",
    "image_model": "imagen-3.0-generate-002",
    "video_provider": "google",
    "video_model": "veo-3.0-generate-preview",
    "auto_play": True,
    "quality": "standard",
}


async def _put(api: Api, body: dict[str, Any], campaign: str = CAMPAIGN) -> httpx.Response:
    return await api.http.put("/api/media/settings", params={"campaign_id": campaign}, json=body)


async def _clip_made(api: Api, emulator: EmulatorControl) -> list[str]:
    """Trigger a cutscene; it must get its clip. The models Google billed."""
    response = await api.trigger()
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["plan"], body["clip_skipped"]) == ("full", None)
    await wait_for_cutscene(api, body["cutscene_id"])
    video = await api.record(body["video_asset_id"])
    assert video["status"] == "complete", video
    clip = await api.http.get(f"/api/media/{body['video_asset_id']}")
    with av.open(io.BytesIO(clip.content), mode="r") as container:
        assert sum(1 for _ in container.decode(video=0)) > 0
    billed: list[dict[str, Any]] = (await emulator.ledger("google"))["billed"]
    return [str(item["model"]) for item in billed]


async def test_google_clips_at_the_default_model_length_and_budget(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with open_api(tmp_path, emulator_server, google=True) as api:
        # Nothing but the providers named: 6 s clips under the default $2.00 a session.
        saved = await _put(
            api, {"enabled": True, "image_provider": "fal", "video_provider": "google"}
        )
        assert saved.status_code == 200, saved.text
        assert (saved.json()["clip_duration_s"], saved.json()["budget_per_session_usd"]) == (
            6.0,
            "2.00",
        )
        assert await _clip_made(api, emulator) == ["veo-3.1-fast-generate-preview"]


async def test_the_spec_settings_are_refused_with_what_fits_and_clip_once_it_is_set(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with open_api(tmp_path, emulator_server, google=True) as api:
        refused = await _put(api, SPEC_SETTINGS)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["code"] == "INVALID_INPUT"
        assert "never" in error["message"]
        details = error["details"]
        assert [f["field"] for f in details["fields"]] == [
            "budget_per_session_usd",
            "video_provider",
            "video_model",
            "clip_duration_s",
        ]
        # Imagen 3 $0.03 + 6 s of Veo 3 at $0.40 = $2.43 > $2.00; 4 s ($1.63) fits.
        assert (details["still_usd"], details["clip_usd"], details["cutscene_usd"]) == (
            "0.03",
            "2.40",
            "2.43",
        )
        assert (details["budget_usd"], details["clip_duration_s_that_fits"]) == ("2.00", 4.0)
        # Nothing was saved.
        current = await api.http.get("/api/media/settings", params={"campaign_id": CAMPAIGN})
        assert current.json()["enabled"] is False

        saved = await _put(api, {**SPEC_SETTINGS, "clip_duration_s": 4})
        assert saved.status_code == 200, saved.text
        assert sorted(await _clip_made(api, emulator)) == [
            "imagen-3.0-generate-002",
            "veo-3.0-generate-preview",
        ]


async def test_settings_that_can_never_make_a_clip_are_refused_while_media_is_on(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    async with open_api(tmp_path, emulator_server, google=True) as api:
        # No price for Leonardo's clips (it bills in credits): refused under a cap...
        unpriced = await _put(api, {"enabled": True, "video_provider": "leonardo"})
        assert unpriced.status_code == 400
        fields = [f["field"] for f in unpriced.json()["error"]["details"]["fields"]]
        assert fields == ["budget_per_session_usd", "video_provider", "video_model"]
        # ... allowed without one.
        uncapped = {"enabled": True, "video_provider": "leonardo", "budget_per_session_usd": None}
        assert (await _put(api, uncapped, "open-campaign")).status_code == 200

        # A provider that makes no clips.
        stills_only = await _put(api, {"enabled": True, "video_provider": "replicate"})
        assert stills_only.status_code == 400
        error = stills_only.json()["error"]
        assert error["code"] == "INVALID_INPUT"
        assert [f["field"] for f in error["details"]["fields"]] == [
            "video_provider",
            "video_model",
        ]

        # A campaign budget counts too; a budget below even the still names the still's fields.
        tight = {"enabled": True, "video_provider": "fal", "image_provider": "fal"}
        campaign = await _put(api, {**tight, "budget_per_campaign_usd": "0.50"})
        assert campaign.status_code == 400
        details = campaign.json()["error"]["details"]
        assert details["fields"][0]["field"] == "budget_per_campaign_usd"
        assert details["clip_duration_s_that_fits"] is None  # fal's Veo 3.1 is 4 s at least
        broke = await _put(api, {**tight, "budget_per_session_usd": "0.01"})
        fields = [f["field"] for f in broke.json()["error"]["details"]["fields"]]
        assert fields[:3] == ["budget_per_session_usd", "image_provider", "image_model"]

        # Off, anything may be saved (nothing is made); turning it on is then refused, and
        # turning it off again is always allowed.
        off = await _put(api, {**tight, "enabled": False, "budget_per_session_usd": "0.01"})
        assert off.status_code == 200
        assert (await _put(api, {"enabled": True})).status_code == 400
        assert (await _put(api, {"enabled": False})).status_code == 200
