"""The /api/media routes with the local studio: settings, refusals, dry runs, classification,
location visuals, and the reading routes; plus the Range header parser."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from cutscenes.cutscenes_support import CAMPAIGN, SESSION, open_api, read_events, wait_for_cutscene
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer
from reelforge.facekit.ranges import byte_range

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=990-", (990, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=500-5000", (500, 999)),
        ("bytes=1000-", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=5-1", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=a-b", None),
        ("bytes=", None),
    ],
)
def test_range_headers(header: str, expected: object) -> None:
    assert byte_range(header, 1000) == expected


async def test_settings_refusals_dry_runs_and_turns_without_cutscenes(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    async with open_api(tmp_path, emulator_server) as api:
        http = api.http
        defaults = (await http.get("/api/media/settings", params={"campaign_id": CAMPAIGN})).json()
        assert defaults["enabled"] is False
        assert defaults["budget_per_session_usd"] == "2.00"

        off = await api.trigger()
        assert off.status_code == 409
        assert off.json()["error"]["code"] == "CONFLICT"

        # A dry run prices the plan (even while off) and calls nobody.
        await api.enable(enabled=False)
        dry = await api.trigger(dry_run=True)
        assert dry.status_code == 200
        plan = dry.json()
        assert plan["dry_run"] is True
        assert plan["media_pending"] is False
        assert plan["plan"] == "full"
        assert [job["label"] for job in plan["per_job"]] == ["still", "clip"]
        assert [job["capability"] for job in plan["jobs"]] == ["text_to_image", "image_to_video"]
        assert plan["total_usd"] == "0.825"
        location = await http.post(
            "/api/media/locations",
            json={
                "campaign_id": CAMPAIGN,
                "session_id": SESSION,
                "location_name": "Sky Forge",
                "dry_run": True,
            },
        )
        assert location.json()["total_usd"] == "0.025"
        assert (await emulator.ledger())["calls"] == []
        assert await api.harness.services.catalog.runs.list() == []

        await api.enable()
        none = await api.trigger(cutscene_type="none")
        assert none.status_code == 200
        assert none.json()["media_pending"] is False
        assert none.json()["asset_ids"] == []
        quiet = await api.trigger(
            cutscene_type=None, signals={"intent": "dialogue", "narrative_weight": "minor"}
        )
        assert quiet.json()["cutscene_type"] == "none"
        missing = await api.trigger(cutscene_type=None)
        assert missing.status_code == 400
        assert missing.json()["error"]["details"]["field"] == "cutscene_type"
        bad = await api.trigger(campaign_id="no spaces")
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "INVALID_INPUT"

        classified = await http.post(
            "/api/media/classify",
            json={"signals": {"new_entities": [{"kind": "npc", "name": "Vell"}]}},
        )
        assert classified.json()["cutscene_type"] == "character_intro"
        assert (await http.get("/api/media/gallery", params={"campaign_id": CAMPAIGN})).json()[
            "media"
        ] == []


async def test_classified_cutscenes_and_location_visuals_with_the_local_studio(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    async with open_api(tmp_path, emulator_server) as api:
        http = api.http
        await api.enable(image_provider=None, video_provider=None, clip_duration_s=1)
        sakuga = await api.trigger(
            cutscene_type=None,
            signals={"use_sakuga": True, "intent": "combat"},
            narrative="The bridge gives way as Kai jumps.",
        )
        assert sakuga.status_code == 202
        body = sakuga.json()
        assert body["cutscene_type"] == "action_climax"
        place = await http.post(
            "/api/media/locations",
            json={
                "campaign_id": CAMPAIGN,
                "session_id": SESSION,
                "location_name": "Sky Forge",
                "description": "an anvil floating above the clouds",
                "turn_number": 13,
            },
        )
        assert place.status_code == 202
        location_id = place.json()["asset_id"]
        assert place.json()["asset_ids"] == [location_id]

        # Before it is made a file is not there, and says why.
        early = await http.get(f"/api/media/{body['video_asset_id']}")
        if early.status_code == 404:
            assert early.json()["error"]["details"]["status"] in ("pending", "generating")

        await wait_for_cutscene(api, body["cutscene_id"])
        await wait_for_cutscene(api, place.json()["cutscene_id"])
        still = await http.get(f"/api/media/{location_id}")
        with Image.open(io.BytesIO(still.content)) as image:
            assert image.size == (512, 288)
        head = await http.head(f"/api/media/{body['video_asset_id']}")
        assert head.status_code == 200
        assert head.headers["content-type"] == "video/mp4"
        assert int(head.headers["content-length"]) > 0
        assert head.content == b""

        gallery = (
            await http.get(
                "/api/media/gallery",
                params={"campaign_id": CAMPAIGN, "session_id": SESSION, "complete_only": True},
            )
        ).json()["media"]
        assert [(m["asset_type"], m["location_name"]) for m in gallery] == [
            ("image", "Sky Forge"),
            ("image", None),
            ("video", None),
        ]
        assert all(m["cost_usd"] == "0.00" for m in gallery)
        turn = (
            await http.get(
                "/api/media/turn/13", params={"campaign_id": CAMPAIGN, "session_id": SESSION}
            )
        ).json()
        assert [m["id"] for m in turn["media"]] == [location_id]
        record = (await http.get(f"/api/media/records/{location_id}")).json()
        assert record["cutscene_type"] == "location_reveal"
        media = f"{api.harness.services.settings.service_url}/api/media"
        assert record["url"] == f"{media}/{location_id}"

        # Everything made is announced once: 3 announcements per medium (6 + 3).
        events = await read_events(api, lambda got: len(got) == 9)
        kinds = sorted(e.kind for e in events)
        assert kinds == ["generating"] * 3 + ["pending"] * 3 + ["ready"] * 3
        missing = await http.get("/api/media/0123456789abcdef0123456789abcdef")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"
