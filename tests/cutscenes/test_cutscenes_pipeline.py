"""Cutscenes end to end over the emulator at realistic latencies: fal text→image, then
image→video, through the engine; the trigger's immediate answer, the SSE stream and its replay,
the files served back (with range requests), budgets and failures (a crash between the still and
the clip: ``test_cutscenes_recovery``)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import av
from PIL import Image

from cutscenes.cutscenes_support import (
    CAMPAIGN,
    SESSION,
    Api,
    open_api,
    read_events,
    wait_for_cutscene,
)
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer
from reelforge.features.cutscenes.repository import CutsceneRepository

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _ended(asset_type: str):  # type: ignore[no-untyped-def]
    def check(events: list) -> bool:  # type: ignore[type-arg]
        return any(
            e.kind in ("ready", "failed", "skipped") and e.data["asset_type"] == asset_type
            for e in events
        )

    return check


async def _billed(emulator: EmulatorControl) -> list[dict[str, object]]:
    billed: list[dict[str, object]] = (await emulator.ledger("fal"))["billed"]
    return billed


async def test_the_trigger_answers_before_any_generation_then_sse_brings_the_still_and_the_clip(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.8, queue_s=0.1)
    async with open_api(tmp_path, emulator_server) as api:
        await api.enable()
        response = await api.trigger()
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["media_pending"] is True
        assert body["plan"] == "full"
        image_id, video_id = body["asset_ids"]
        assert (body["image_asset_id"], body["video_asset_id"]) == (image_id, video_id)
        # The answer came before anything was made: nothing billed, both records unfinished.
        assert await _billed(emulator) == []
        assert (await api.record(image_id))["status"] in ("pending", "generating")
        assert (await api.record(video_id))["status"] == "pending"

        events = await read_events(api, _ended("video"))
        seen = [(e.kind, e.data["asset_type"]) for e in events]
        assert seen[:2] == [("pending", "image"), ("pending", "video")]
        assert seen.index(("ready", "image")) < seen.index(("generating", "video"))
        assert seen[-1] == ("ready", "video")
        ready = {e.data["asset_type"]: e for e in events if e.kind == "ready"}
        media = f"{api.harness.services.settings.service_url}/api/media"
        assert ready["image"].data["url"] == f"{media}/{image_id}"
        assert ready["video"].data["url"] == f"{media}/{video_id}"
        assert ready["video"].data["poster"] == f"{media}/{image_id}"
        assert all(e.data["cutscene_id"] == body["cutscene_id"] for e in events)

        # A client that saw only the first event reconnects and gets the rest, in order.
        replay = await read_events(
            api, lambda got: len(got) == len(events) - 1, last_event_id=events[0].id
        )
        assert [(e.id, e.kind) for e in replay] == [(e.id, e.kind) for e in events[1:]]

        await wait_for_cutscene(api, body["cutscene_id"])
        await _check_files(api, image_id, video_id)

        turn = (await api.http.get("/api/media/turn/12", params={"campaign_id": CAMPAIGN})).json()
        assert [(m["asset_type"], m["status"]) for m in turn["media"]] == [
            ("image", "complete"),
            ("video", "complete"),
        ]
        billed = await _billed(emulator)
        assert sorted(str(b["model"]) for b in billed) == [
            "fal-ai/flux/dev",
            "fal-ai/veo3.1/image-to-video",
        ]
        cost = (
            await api.http.get(
                "/api/media/cost", params={"campaign_id": CAMPAIGN, "session_id": SESSION}
            )
        ).json()
        assert Decimal(cost["spent_usd"]) == sum(Decimal(str(b["amount_usd"])) for b in billed)
        assert cost["media_count"] == 2
        assert cost["budget"]["cap_usd"] == "2.00"


async def _check_files(api: Api, image_id: str, video_id: str) -> None:
    image = await api.http.get(f"/api/media/{image_id}")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(image.content)) as still:
        still.load()
        assert still.size[0] > still.size[1] > 0

    video = await api.http.get(f"/api/media/{video_id}")
    assert video.status_code == 200
    assert video.headers["accept-ranges"] == "bytes"
    size = len(video.content)
    assert int(video.headers["content-length"]) == size
    with av.open(io.BytesIO(video.content), mode="r") as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 24

    head = await api.http.get(f"/api/media/{video_id}", headers={"Range": "bytes=0-99"})
    assert head.status_code == 206
    assert head.headers["content-range"] == f"bytes 0-99/{size}"
    assert head.content == video.content[:100]
    rest = await api.http.get(f"/api/media/{video_id}", headers={"Range": "bytes=100-"})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert head.content + rest.content == video.content
    tail = await api.http.get(f"/api/media/{video_id}", headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, video.content[-10:])
    beyond = await api.http.get(f"/api/media/{video_id}", headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert beyond.json()["error"]["code"] == "RANGE_NOT_SATISFIABLE"


async def test_a_session_with_room_for_the_still_only_gets_it_and_a_recorded_skip(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.4, queue_s=0.05)
    async with open_api(tmp_path, emulator_server) as api:
        # A draft flux still costs under a cent; a 4 s veo3.1 clip $0.80.
        await api.cap_session("0.10")
        response = await api.trigger()
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["plan"] == "still_only"
        assert body["video_asset_id"] is None
        assert f"game_session:{CAMPAIGN}:{SESSION}" in body["clip_skipped"]
        [image_id] = body["asset_ids"]

        events = await read_events(api, _ended("image"))
        skipped = next(e for e in events if e.kind == "skipped")
        assert skipped.data["asset_type"] == "video"
        assert skipped.data["reason"] == body["clip_skipped"]
        assert events[-1].kind == "ready"
        await wait_for_cutscene(api, body["cutscene_id"])

        cutscene = await CutsceneRepository.on(api.harness.services.catalog).get(
            body["cutscene_id"]
        )
        assert cutscene.clip_skipped_reason == body["clip_skipped"]
        assert cutscene.clip_run_id is None
        assert (await api.record(image_id))["status"] == "complete"
        calls = (await emulator.ledger("fal"))["providers"]["fal"]["calls"]
        assert calls["submit"] == 1
        assert [b["model"] for b in await _billed(emulator)] == ["fal-ai/flux/dev"]
        ledger = (
            await api.http.get(
                "/v1/costs/ledger", params={"scope": f"game_session:{CAMPAIGN}:{SESSION}"}
            )
        ).json()
        entries = ledger["entries"] if isinstance(ledger, dict) else ledger
        assert {entry["model"] for entry in entries} == {"fal-ai/flux/dev"}


async def test_an_exhausted_session_gets_the_spec_error_and_no_provider_is_called(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    async with open_api(tmp_path, emulator_server) as api:
        await api.cap_session("0.002")
        response = await api.trigger()
        assert response.status_code == 402
        error = response.json()["error"]
        assert error["code"] == "budget_exhausted"
        assert error["message"] == "Session media budget exhausted"
        assert error["details"]["budget"] == "0.002"
        assert error["details"]["scope"] == f"game_session:{CAMPAIGN}:{SESSION}"

        location = await api.http.post(
            "/api/media/locations",
            json={"campaign_id": CAMPAIGN, "session_id": SESSION, "location_name": "Sky Forge"},
        )
        assert location.status_code == 402
        assert (await emulator.ledger())["calls"] == []
        gallery = await api.http.get("/api/media/gallery", params={"campaign_id": CAMPAIGN})
        assert gallery.json()["media"] == []
        budget = api.harness.services.budget
        assert await budget.ledger() == []


async def test_a_failed_clip_leaves_the_still_and_is_announced(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    await emulator.inject("fal", "generate", "failed", count=None)
    async with open_api(tmp_path, emulator_server) as api:
        await api.enable(image_provider="local")
        response = await api.trigger()
        assert response.status_code == 202
        body = response.json()
        events = await read_events(api, _ended("video"))
        failed = events[-1]
        assert (failed.kind, failed.data["asset_type"]) == ("failed", "video")
        assert failed.data["error"]["code"]
        await wait_for_cutscene(api, body["cutscene_id"])
        still = await api.record(body["image_asset_id"])
        clip = await api.record(body["video_asset_id"])
        assert still["status"] == "complete"
        assert clip["status"] == "failed"
        assert clip["error"]["code"] == failed.data["error"]["code"]
        # A provider failure that may pass is tried once more, then left.
        assert clip["error"]["code"] == "provider_unavailable"
        assert (await emulator.ledger("fal"))["providers"]["fal"]["calls"]["submit"] == 2
        # The app carries on: the next trigger is answered as the first was.
        assert (
            await api.trigger(turn_number=13, cutscene_type="emotional_peak")
        ).status_code == 202
