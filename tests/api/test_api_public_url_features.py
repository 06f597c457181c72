"""The public URL in every feature: with ``public_url`` set to a name that does not resolve, the
URLs that segments, cutscenes (REST, server-sent events, MCP, pages), characters and the
Cinematic Switch hand out, and a pending key-frame answer's links and ``Location``, all start
with it, and what each names is served by the loopback server under the URL's path.

(Key frames, the generic runs and the run page: ``test_api_public_url.py``.)
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from api.public_url_support import PUBLIC, check_public, page_urls, payload, served
from characters.characters_support import MARA
from cutscenes.cutscenes_support import CAMPAIGN, SESSION, Api, read_events
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import EngineHarness, engine_settings, open_engine_harness
from keyframes.keyframes_support import storyboard
from reelforge.emulator import EmulatorServer
from reelforge.features.cutscenes.finishing import stage_run_id
from reelforge.settings import Settings
from segments.segments_support import frame_images, request_body, segments_settings
from transform.transform_support import astronaut, encoded, form_bytes, transform_settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

#: Answer fields that send the caller's own input back as given.
_ECHOED = frozenset({"sourceUrl"})
_PLAYER_STATE = re.compile(r'<script id="player-state"[^>]*>(.*?)</script>', re.S)


@asynccontextmanager
async def _served_at_public_url(
    settings: Settings,
) -> AsyncIterator[tuple[EngineHarness, httpx.AsyncClient]]:
    public = settings.model_copy(update={"public_url": PUBLIC})
    async with (
        open_engine_harness(public, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60, trust_env=False) as http,
    ):
        yield harness, http


@asynccontextmanager
async def _mcp(base_url: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(timeout=60) as mcp_http,
        streamable_http_client(f"{base_url}/mcp/", http_client=mcp_http) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def _tool(session: ClientSession, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result.content
    return payload(result)


async def _page_media(http: httpx.AsyncClient, path: str, media_path: str) -> list[str]:
    """The media URLs of a page (at least one), each under the public URL and served."""
    page = await http.get(path)
    assert page.status_code == 200, page.text
    media = [url for url in page_urls(page.text) if media_path in url]
    assert media, page.text
    for url in media:
        assert url.startswith(PUBLIC + media_path), url
        assert await served(http, str(http.base_url).rstrip("/"), url)
    return media


async def test_cutscene_media_urls_in_answers_events_tools_and_pages(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with _served_at_public_url(settings) as (harness, http):
        api = Api(harness, http)
        await api.enable()
        triggered = await api.trigger()
        assert triggered.status_code == 202, triggered.text
        body = triggered.json()
        image_id, video_id = body["asset_ids"]

        def clip_ended(got: list[Any]) -> bool:
            return any(e.data["asset_type"] == "video" and e.kind == "ready" for e in got)

        events = await read_events(api, clip_ended)
        announced = [e.data for e in events if e.kind == "ready"]
        assert check_public(announced) == [
            f"{PUBLIC}/api/media/{image_id}",
            f"{PUBLIC}/api/media/{video_id}",
            f"{PUBLIC}/api/media/{image_id}",
        ]
        base = harness.base_url
        for url in check_public(await api.record(video_id)):
            assert await served(http, base, url)
        params = {"campaign_id": CAMPAIGN, "session_id": SESSION}
        check_public((await http.get("/api/media/gallery", params=params)).json())
        check_public((await http.get("/api/media/turn/12", params=params)).json())
        still_run = stage_run_id(body["cutscene_id"], "still")
        check_public((await http.get(f"/v1/runs/{still_run}/result")).json())

        async with _mcp(base) as session:
            result = await _tool(session, "get_run_result", {"run_id": still_run})
            assert f"{PUBLIC}/api/media/{image_id}" in check_public(result)

        player = await http.get("/cutscenes", params=params)
        assert player.status_code == 200, player.text
        state = json.loads(_PLAYER_STATE.search(player.text)[1])  # type: ignore[index]
        assert len(check_public(state["turns"])) == 2
        gallery = f"/cutscenes/gallery?campaign_id={CAMPAIGN}&session_id={SESSION}"
        assert len(await _page_media(http, gallery, "/api/media/")) == 2


async def test_segment_and_pending_key_frame_urls(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = segments_settings(tmp_path / "data", 8000, emulator_url=emulator_server.base_url)
    keyframes = settings.keyframes.model_copy(update={"min_frames": 1})
    settings = settings.model_copy(update={"keyframes": keyframes})
    async with _served_at_public_url(settings) as (harness, http):
        frames = await frame_images(harness.services, 2)
        body = request_body([(1, 1), (1, 2)], frames)
        made = await http.post("/v1/segments", json=body)
        assert made.status_code == 200, made.text
        assert made.headers["Location"] == f"{PUBLIC}/v1/segments/{made.json()['run_id']}"
        for url in check_public(made.json()):
            assert await served(http, harness.base_url, url)
        run_id = made.json()["run_id"]
        check_public((await http.get(f"/v1/segments/{run_id}")).json())
        await _page_media(http, f"/runs/{run_id}", "/media/")

        async with _mcp(harness.base_url) as session:
            answer = await _tool(session, "generate_video_segments", body)
            assert answer["video_segments"], answer
            check_public(answer)

        # Still rendering after no wait: the links of the 202, and its Location.
        pending = await http.post(
            "/v1/keyframes", params={"wait_s": 0}, json=storyboard(1, provider="local")
        )
        assert pending.status_code == 202, pending.text
        links = check_public(pending.json())
        assert pending.headers["Location"] in links
        assert len(links) == 3


async def test_character_image_urls_in_answers_tools_and_pages(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with _served_at_public_url(settings) as (harness, http):
        created = await http.post("/v1/characters", json=MARA)
        assert created.status_code == 201, created.text
        character_id = created.json()["character"]["id"]
        made = await http.post(f"/v1/characters/{character_id}/generate-initial-image")
        assert made.status_code == 201, made.text
        for url in check_public(made.json(), echoed=_ECHOED):
            assert await served(http, harness.base_url, url)
        listed = (await http.get(f"/v1/characters/{character_id}/images")).json()
        check_public(listed, echoed=_ECHOED)
        await _page_media(http, f"/screenplay/characters/{character_id}/images", "/media/")

        async with _mcp(harness.base_url) as session:
            images = await _tool(session, "list_character_images", {"character_id": character_id})
            check_public(images, echoed=_ECHOED)


async def test_cinematic_switch_urls_in_answers_and_tools(tmp_path: Path) -> None:
    settings = transform_settings(tmp_path / "data")
    async with _served_at_public_url(settings) as (harness, http):
        fields = {"scene_description": "a knight in a castle courtyard at dawn"}
        content_type, form = form_bytes(fields, encoded(astronaut()))
        made = await http.post(
            "/generate/cinematic", content=form, headers={"Content-Type": content_type}
        )
        assert made.status_code == 200, made.text
        for url in check_public(made.json()):
            assert await served(http, harness.base_url, url)

        photo = base64.b64encode(encoded(astronaut())).decode()
        async with _mcp(harness.base_url) as session:
            answer = await _tool(
                session,
                "cinematic_switch",
                {"media": f"data:image/png;base64,{photo}", **fields},
            )
            check_public(answer)
