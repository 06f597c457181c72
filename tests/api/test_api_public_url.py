"""One public URL for the whole service: with ``public_url`` set, every URL that the REST API,
the MCP tools and the pages hand out starts with it, and providers are told to call back there.

A real server on loopback, the public URL a name that does not resolve: each URL handed out is
then fetched through the loopback server by its path, so what it names is really served.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from api.public_url_support import PUBLIC, check_public, page_urls, payload, served
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import open_engine_harness, wait_until
from keyframes.keyframes_support import keyframes_settings, storyboard
from reelforge.emulator import EmulatorServer
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _public_settings(tmp_path: Path, emulator_url: str) -> Settings:
    settings = keyframes_settings(tmp_path / "data", emulator_url)
    return settings.model_copy(update={"public_url": PUBLIC})


async def test_every_url_handed_out_starts_with_the_public_url(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = _public_settings(tmp_path, emulator_server.base_url)
    async with (
        open_engine_harness(settings, webhooks=False) as harness,
        httpx.AsyncClient(timeout=60) as http,
    ):
        base = harness.base_url
        # REST: a key-frame run through the offline local provider, and what reads it back.
        rendered = await http.post(f"{base}/v1/keyframes", json=storyboard(2, provider="local"))
        assert rendered.status_code == 200, rendered.text
        answer = rendered.json()
        run_id = answer["run_id"]
        frames = answer["generated_frames"]
        assert len(frames) == 2
        check_public(answer)
        for frame in frames:
            image = Image.open(io.BytesIO(await served(http, base, frame["image_url"])))
            assert image.size == (512, 288)
        result = (await http.get(f"{base}/v1/runs/{run_id}/result")).json()
        urls = check_public(result)
        assert f"{PUBLIC}/v1/runs/{run_id}" in urls
        assert f"{PUBLIC}/runs/{run_id}" in urls
        check_public((await http.get(f"{base}/v1/runs/{run_id}")).json())
        job = (await harness.services.catalog.jobs.list_for_run(run_id))[0]
        asset = (await http.get(f"{base}/v1/assets/{job.asset_ids[0]}")).json()
        for url in check_public(asset):
            assert await served(http, base, url)
        started = await http.post(
            f"{base}/v1/runs",
            json={"feature": "keyframes", "input": storyboard(1, provider="local", seed=7)},
        )
        check_public(started.json())
        if started.status_code == 202:
            assert started.headers["Location"].startswith(f"{PUBLIC}/v1/runs/")

        # MCP over streamable HTTP: a render and a run result, as an agent gets them.
        mcp_http = httpx2.AsyncClient(timeout=60)
        async with (
            mcp_http,
            streamable_http_client(f"{base}/mcp/", http_client=mcp_http) as (read, write, *_),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            body = storyboard(1, provider="local", seed=9)
            made = await session.call_tool("render_storyboard_frames", body)
            assert not made.is_error, made.content
            check_public(payload(made))
            read_back = await session.call_tool("get_run_result", {"run_id": run_id})
            assert not read_back.is_error, read_back.content
            assert check_public(payload(read_back)) == urls

        # The run page: its images and every absolute link.
        page = await http.get(f"{base}/runs/{run_id}")
        assert page.status_code == 200
        found = page_urls(page.text)
        media = [url for url in found if "/media/" in url]
        assert len(media) >= 2, found
        for url in found:
            assert url.startswith((PUBLIC + "/", "/")), url
            assert not url.startswith("//"), url
        for url in media:
            assert url.startswith(f"{PUBLIC}/media/"), url
            assert await served(http, base, url)


async def test_providers_are_told_to_call_back_at_the_public_url(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    # One attempt: the public name does not resolve here, and polling finishes the job.
    await emulator.configure(latency_s=0.1, queue_s=0.02, webhook_attempts=1)
    settings = _public_settings(tmp_path, emulator_server.base_url)
    async with (
        open_engine_harness(settings, webhooks=False) as harness,
        httpx.AsyncClient(timeout=60) as http,
    ):
        rendered = await http.post(f"{harness.base_url}/v1/keyframes", json=storyboard(1))
        assert rendered.status_code == 200, rendered.text
        check_public(rendered.json())
        [job] = await harness.services.catalog.jobs.list_for_run(rendered.json()["run_id"])

        async def called_back() -> list[dict[str, Any]]:
            return list((await emulator.ledger("fal"))["webhooks"])

        await wait_until(called_back)
        [hook] = await called_back()
        assert hook["url"].startswith(f"{PUBLIC}/webhooks/fal?")
        assert f"job={job.id}" in hook["url"]
