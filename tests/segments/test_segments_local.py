"""Segments with the offline local studio (animatics): both key frames passed, frames from our
store, a data: URI and a foreign URL, files at the spec's keys, the run page playing them in
Chromium, and the MCP tool called by a real MCP client."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image
from playwright.async_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fixtures.browser import browser, page
from fixtures.server import serve_app
from reelforge.features.segments.repository import SegmentRepository
from segments.segments_support import (
    decoded_seconds,
    fetch_video,
    frame_images,
    request_body,
    segments_harness,
)

__all__ = ["browser", "page"]


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), colour).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_local_studio_segments_play_on_the_run_page(page: Page, tmp_path: Path) -> None:
    async def frame(_: Request) -> Response:
        return Response(_png((30, 160, 90)), media_type="image/png")

    foreign = Starlette(routes=[Route("/frame.png", frame)])
    async with (
        serve_app(foreign) as foreign_url,
        segments_harness(tmp_path, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http,
    ):
        services = harness.services
        (own,) = await frame_images(services, 1)
        data_uri = "data:image/png;base64," + base64.b64encode(_png((200, 80, 30))).decode()
        urls = [own, data_uri, f"{foreign_url}/frame.png"]
        private = request_body([(1, 1), (1, 2)], [own, "http://10.1.2.3/frame.png"])
        refused = await http.post("/v1/segments", json=private)
        body = request_body([(1, 1), (1, 2), (2, 5)], urls, durations=[1.5, 1.5, 2.5])
        response = await http.post("/v1/segments", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        segments = answer["video_segments"]
        for segment in segments:
            path = await fetch_video(http, segment["video_url"], tmp_path)
            assert decoded_seconds(path) == pytest.approx(segment["duration_seconds"], abs=0.05)
        records = await SegmentRepository.on(services.catalog).list_for_run(answer["run_id"])
        first_job = await services.catalog.jobs.get(records[0].job_id)
        frame_sources = [
            (await services.assets.get(str(f.asset_id))).source for r in records for f in r.frames
        ]

        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{harness.base_url}/runs/{answer['run_id']}")
        videos = page.locator("[data-run-grid] video")
        await expect(videos).to_have_count(2)
        for index in range(2):
            video = videos.nth(index)
            # HAVE_METADATA or better: the browser fetched and parsed the stored MP4.
            await video.evaluate(
                "v => new Promise((ok, fail) => { if (v.readyState >= 1) ok(); "
                "v.onloadedmetadata = () => ok(); v.onerror = () => fail(v.error.message); })"
            )
            played = await video.evaluate(
                "v => v.play().then(() => new Promise(ok => "
                "v.addEventListener('timeupdate', () => ok(v.currentTime), {once: true})))"
            )
            assert played >= 0
        seconds = [await videos.nth(i).evaluate("v => v.duration") for i in range(2)]
        assert errors == []

    # A frame safe ingest refuses stops the request before any job, naming the frame.
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "URL_NOT_ALLOWED"
    assert refused.json()["error"]["details"]["frame_id"] == "SCENE_1_SHOT_2"
    assert answer["failed_segments"] == []
    assert [s["associated_frames"] for s in segments] == [
        ["SCENE_1_SHOT_1", "SCENE_1_SHOT_2"],
        ["SCENE_2_SHOT_5"],
    ]
    assert [s["duration_seconds"] for s in segments] == pytest.approx([3.0, 2.5], abs=0.05)
    assert seconds == pytest.approx([3.0, 2.5], abs=0.1)
    first = segments[0]["provider_metadata"]
    assert first["provider"] == "local"
    assert first["model"] == "reelforge-animatic-1"
    assert first["completed_by"] == "poll"  # the engine polls the in-process job
    # The local studio takes a first and a last frame: both were sent.
    assert first["key_frames"] == 2
    assert segments[1]["provider_metadata"]["key_frames"] == 1
    assert segments[1]["video_url"].endswith(
        f"/media/projects/proj-1/ep-1/segments/{answer['run_id']}/segment_2_5.mp4"
    )
    assert frame_sources == ["upload", "base64", "url"]
    assert first_job.template_name == "segment_motion"
    assert first_job.template_version == first["prompt_template"]["version"]
    prompt = first_job.prompt or ""
    for words in (
        "Mara crosses the harbour, shot 1.1",
        "Mara crosses the harbour, shot 1.2",
        "Camera: slow push-in",
        "Lighting: dawn, soft pink light",
        "Prompt seed: harbour-1-2",
    ):
        assert words in prompt
    assert first_job.request["retry"]["max_retries"] == 0


async def test_the_mcp_tool_makes_segments_and_refuses_in_the_envelope(tmp_path: Path) -> None:
    async with segments_harness(tmp_path, webhooks=False) as harness:
        urls = await frame_images(harness.services, 1)
        arguments = request_body([(3, 1)], urls, provider="local")
        client = httpx2.AsyncClient(timeout=60)
        async with (
            client,
            streamable_http_client(f"{harness.base_url}/mcp/", http_client=client) as (
                read,
                write,
                *_,
            ),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            made = await session.call_tool("generate_video_segments", arguments)
            broken = dict(arguments, storyboard_frames=[])
            refused = await session.call_tool("generate_video_segments", broken)
        async with httpx.AsyncClient(timeout=60) as http:
            payload = made.structured_content or json.loads(made.content[0].text)  # type: ignore[union-attr]
            (segment,) = payload["video_segments"]
            path = await fetch_video(http, segment["video_url"], tmp_path)
    assert "generate_video_segments" in tools
    assert not made.is_error
    assert segment["segment_id"] == "SEGMENT_1"
    assert decoded_seconds(path) == pytest.approx(segment["duration_seconds"], abs=0.05)
    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    envelope = json.loads(text[text.index("{") :])  # after the SDK's "Error executing tool..."
    assert envelope["success"] is False
    assert envelope["error"]["code"] == "INVALID_INPUT"
