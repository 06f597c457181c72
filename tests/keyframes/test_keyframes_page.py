"""The live run page in headless Chromium: frames appear as they finish, without a reload; a
video output is shown as a video (the page is generic over output kinds)."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from fixtures import emulator as emulator_fixtures
from fixtures.browser import browser, page
from fixtures.emulator import EmulatorControl
from fixtures.engine import open_engine_harness
from keyframes.keyframes_support import keyframes_settings, storyboard
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import JobSpec
from reelforge.providers.base import Capability
from reelforge.settings import Settings

__all__ = ["browser", "page"]

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _page_settings(tmp_path: Path, emulator_url: str, **engine: object) -> Settings:
    settings = keyframes_settings(tmp_path / "data", emulator_url, engine=engine or None)
    # Public URLs on the page's own origin, whatever port the test server gets.
    store = settings.store.model_copy(update={"public_base_url": "/media"})
    return settings.model_copy(update={"store": store})


async def test_frames_appear_live_as_they_finish(
    page: Page, tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    # One fal job at a time, 1.5 s each: the frames finish one after another.
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    settings = _page_settings(
        tmp_path, emulator_server.base_url, queues={"fal": {"concurrency": 1}}
    )
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        accepted = await http.post(
            f"{harness.base_url}/v1/keyframes", json=storyboard(3), params={"wait_s": 0}
        )
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]

        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        streams: list[str] = []
        page.on("request", lambda r: streams.append(r.url) if "/stream" in r.url else None)
        await page.goto(f"{harness.base_url}/runs/{run_id}")
        await page.evaluate("window.notReloaded = true")
        grid = page.locator("[data-run-grid]")
        cards = grid.locator("[data-job]")
        await expect(cards).to_have_count(3)
        first_seen = await grid.locator("img").count()
        assert first_seen < 3  # at least one frame was still rendering when the page loaded

        images = grid.locator("img")
        await expect(images).to_have_count(3, timeout=30_000)
        assert await page.evaluate("window.notReloaded === true")
        for index in range(3):
            card = cards.nth(index)
            await expect(card.locator("[data-card-status]")).to_have_text("succeeded")
            width = await card.locator("img").evaluate(
                "img => img.decode().then(() => img.naturalWidth)"
            )
            assert width == 512  # the browser decoded the stored image
        labels = [await cards.nth(i).get_attribute("data-label") for i in range(3)]
        assert labels == ["SCENE_1_SHOT_1", "SCENE_1_SHOT_2", "SCENE_1_SHOT_3"]
        prompt = await cards.first.locator(".run-prompt").inner_text()
        assert "Featuring Mara (red scarf)." in prompt
        # The frame's words beside its picture: the caption panel.
        caption = cards.first.locator("[data-caption]")
        await expect(caption).to_have_text("Shot 0: Mara looks out to sea. · wide shot")
        await expect(page.locator("[data-run-status]")).to_have_text("succeeded")
        assert streams == [f"{harness.base_url}/v1/runs/{run_id}/stream"]  # followed live
        assert errors == []

        await page.goto(f"{harness.base_url}/runs")
        await expect(page.locator(f'a[href="/runs/{run_id}"]')).to_have_count(1)


async def test_a_video_output_is_shown_as_a_video(
    page: Page, tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = _page_settings(tmp_path, emulator_server.base_url)
    async with open_engine_harness(settings) as harness:
        clip = JobSpec(
            provider="local",
            capability=Capability.TEXT_TO_VIDEO,
            prompt="a lighthouse in a storm",
            width=320,
            height=180,
            duration_s=1.0,
            label="SEGMENT_1",
        )
        run_id = await harness.engine.start_run("segments", [clip])
        await page.goto(f"{harness.base_url}/runs/{run_id}")
        video = page.locator("[data-run-grid] video")
        await expect(video).to_have_count(1, timeout=30_000)
        for attribute in ("controls", "muted", "playsinline"):
            assert await video.get_attribute(attribute) is not None
        duration = await video.evaluate(
            "v => v.readyState >= 1 ? v.duration : new Promise(r => "
            "v.addEventListener('loadedmetadata', () => r(v.duration)))"
        )
        assert 0.5 < duration < 2.0
