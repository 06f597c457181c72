"""The transform's other faces: the page in headless Chromium, the MCP tool through a real MCP
client, and ``reelforge transform`` as a user runs it."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import FilePayload, Page, expect

from fixtures.browser import browser, page
from reelforge.features.transform.validation import FORMAT_MESSAGE, TEXT_MESSAGE
from transform.transform_support import (
    DESCRIPTION,
    astronaut,
    decoded,
    encoded,
    transform_app,
    transform_settings,
)

__all__ = ["browser", "page"]

PHOTO = encoded(astronaut())


async def test_the_page_transforms_the_astronaut_and_shows_the_specs_errors(
    tmp_path: Path, page: Page
) -> None:
    # Relative public URLs, so the browser loads outputs from this test's server.
    settings = transform_settings(tmp_path / "data", store={"public_base_url": "/media"})
    async with transform_app(settings, environ={}) as app:
        await page.goto(f"{app.base_url}/cinematic-switch")
        await expect(page.locator("h1")).to_have_text("The Cinematic Switch")
        # No provider key: the page says up front what the offline studio does.
        await expect(page.locator("#offline-notice")).to_contain_text("only applies a style")

        upload = FilePayload(name="astronaut.png", mimeType="image/png", buffer=PHOTO)
        await page.set_input_files("#media", files=[upload])
        await page.fill("#scene_description", "too short")
        await page.click("#submit")
        await expect(page.locator("#error")).to_have_text(TEXT_MESSAGE)

        gif = FilePayload(
            name="astronaut.png", mimeType="image/png", buffer=encoded(astronaut(), "GIF")
        )
        await page.set_input_files("#media", files=[gif])
        await page.fill("#scene_description", DESCRIPTION)
        await page.click("#submit")
        await expect(page.locator("#error")).to_have_text(FORMAT_MESSAGE)

        await page.set_input_files("#media", files=[upload])
        await page.select_option("#style_preset", "vintage")
        await page.click("#submit")
        await expect(page.locator("#result")).to_be_visible(timeout=60_000)
        await expect(page.locator("#error")).to_be_hidden()
        await expect(page.locator("#status")).to_have_text("Done.")
        await expect(page.locator("#warnings")).to_contain_text("Offline:")
        output = page.locator("#outputs img")
        await expect(output).to_have_count(1)
        await expect(page.locator("#outputs .identity")).to_contain_text("likeness kept")
        width = await output.evaluate("img => img.complete ? img.naturalWidth : 0")
        assert width == 512
        href = await page.locator("#outputs a.download").get_attribute("href")
        assert href is not None
        async with page.expect_download() as download_info:
            await page.click("#outputs a.download")
        download = await download_info.value
        saved = tmp_path / "download.png"
        await download.save_as(saved)
        assert decoded(saved.read_bytes()).size == (512, 512)


async def test_the_mcp_tool_transforms_and_refuses_like_the_api(tmp_path: Path) -> None:
    settings = transform_settings(tmp_path / "data")
    async with transform_app(settings, environ={}) as app:
        client = httpx2.AsyncClient(timeout=60)
        async with (
            client,
            streamable_http_client(f"{app.base_url}/mcp/", http_client=client) as (
                read,
                write,
                *_,
            ),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {tool.name for tool in (await session.list_tools()).tools}
            assert "cinematic_switch" in tools
            media = "data:image/png;base64," + base64.b64encode(PHOTO).decode()
            done = await session.call_tool(
                "cinematic_switch",
                {"media": media, "scene_description": DESCRIPTION, "style_preset": "comic"},
            )
            assert not done.is_error, done.content
            envelope = done.structured_content or json.loads(done.content[0].text)  # type: ignore[union-attr]
            data = envelope["result"]["data"]
            assert (envelope["result"]["provider"], data["variation_count"]) == ("LOCAL", 1)
            assert data["identity"]["scores"][0]["distance"] is not None

            refused = await session.call_tool(
                "cinematic_switch", {"media": media, "scene_description": "x" * 2001}
            )
            assert refused.is_error
            text = refused.content[0].text  # type: ignore[union-attr]
            error = json.loads(text[text.index("{") :])["error"]
            assert (error["code"], error["message"]) == ("INVALID_INPUT", TEXT_MESSAGE)


def _reelforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    environment.update({"COLUMNS": "200", "REELFORGE_LOG_LEVEL": "warning"})
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_cli_transforms_a_photo(tmp_path: Path) -> None:
    photo = tmp_path / "me.jpg"  # a PNG under a JPG name: the content decides
    photo.write_bytes(PHOTO)
    done = _reelforge(
        "transform", str(photo), DESCRIPTION, "--style", "noir", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    envelope = json.loads(done.stdout)
    data = envelope["result"]["data"]
    assert (envelope["result"]["provider"], data["variation_count"]) == ("LOCAL", 1)
    key = data["transformed_media_urls"][0].split("/media/", 1)[1]
    assert decoded((tmp_path / "reelforge-data" / "media" / key).read_bytes()).size == (512, 512)
    assert "job_succeeded" in done.stderr  # progress went to stderr
