"""The cutscene pages in headless Chromium: the player (indicator, still, then a playing clip,
without a reload), the gallery, the media settings form, and sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from cutscenes.cutscenes_support import CAMPAIGN, SESSION, open_api
from fixtures import emulator as emulator_fixtures
from fixtures.browser import browser, page
from fixtures.emulator import EmulatorControl
from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.emulator import EmulatorServer
from reelforge.services import open_services

__all__ = ["browser", "page"]

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

TOKEN = "cutscene-page-token"
PLAYING = "v => !v.paused && v.currentTime > 0 && v.readyState >= 2"


async def test_the_player_shows_the_indicator_then_the_still_then_a_playing_clip(
    page: Page, tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.8, queue_s=0.1)
    async with open_api(tmp_path, emulator_server) as api:
        await api.enable()
        await page.goto(f"{api.base_url}/cutscenes?campaign_id={CAMPAIGN}&session_id={SESSION}")
        await page.evaluate("window.samePage = true")
        form = page.locator("#turn-form")
        await form.locator("textarea[name=narrative]").fill("The bridge gives way as Kai jumps.")
        await form.locator("textarea[name=image_prompt]").fill("Kai mid-leap over a chasm")
        await form.locator("input[name=motion_prompt]").fill("fast push-in")
        await form.locator("input[name=use_sakuga]").check()
        await form.locator("button[type=submit]").click()

        turn = page.locator("article.turn").first
        indicator = turn.locator(".cutscene-rendering")
        await expect(indicator).to_be_visible()
        await expect(indicator).to_have_text("🎬 Cutscene rendering…")
        await expect(turn.locator(".narrative")).to_have_text("The bridge gives way as Kai jumps.")
        await expect(turn.locator(".turn-title")).to_have_text("Turn 1")

        still = turn.locator("img.cutscene-still")
        await expect(still).to_be_visible(timeout=30_000)
        # Visible once inserted; decoded a little later (a loaded machine makes it visible).
        await still.evaluate(
            "img => img.complete ? null : new Promise(done => {"
            " img.addEventListener('load', done); img.addEventListener('error', done); })"
        )
        assert await still.evaluate("img => img.complete && img.naturalWidth > 0")
        # The still is in, the clip is still being made.
        await expect(indicator).to_be_visible()

        video = turn.locator("video.cutscene-video")
        await expect(video).to_be_visible(timeout=30_000)
        # Playing: not paused, time advancing, frames decoded.
        await page.wait_for_function(PLAYING, arg=await video.element_handle(), timeout=30_000)
        assert await video.evaluate("v => v.muted && v.autoplay && v.loop")
        await expect(indicator).to_be_hidden()
        assert await page.evaluate("window.samePage") is True

        await turn.locator("button.unmute").click()
        assert await video.evaluate("v => v.muted") is False
        await turn.locator("button.fullscreen").click()
        cinema = page.locator(".cinema")
        await expect(cinema.locator("video")).to_be_visible()
        await cinema.locator("button.cinema-close").click()
        await expect(cinema).to_have_count(0)
        await expect(turn.locator("video.cutscene-video")).to_be_visible()

        # A reload renders the same turn from the server's state, finished.
        await page.evaluate("window.cutscenePlayer.close()")
        await page.reload()
        turn = page.locator("article.turn").first
        await expect(turn.locator("video.cutscene-video")).to_be_visible()
        await expect(turn.locator(".cutscene-rendering")).to_be_hidden()
        await expect(turn.locator(".narrative")).to_have_text("The bridge gives way as Kai jumps.")

        await page.goto(
            f"{api.base_url}/cutscenes/gallery?campaign_id={CAMPAIGN}&session_id={SESSION}"
        )
        await expect(page.locator(".gallery figure")).to_have_count(2)
        await expect(page.locator(".gallery img")).to_have_count(1)
        await expect(page.locator(".gallery video")).to_have_count(1)
        await page.goto("about:blank")


async def test_the_settings_page_turns_media_on_and_sets_the_budget(
    page: Page, tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    async with open_api(tmp_path, emulator_server) as api:
        await page.goto(f"{api.base_url}/cutscenes/settings?campaign_id={CAMPAIGN}")
        form = page.locator("#settings-form")
        assert await form.locator("input[name=enabled]").is_checked() is False
        await form.locator("input[name=enabled]").check()
        await form.locator("input[name=budget_per_session_usd]").fill("0.50")
        await form.locator("select[name=quality]").select_option("draft")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("#settings-status")).to_have_text("Saved.")
        saved = (await api.http.get("/api/media/settings", params={"campaign_id": CAMPAIGN})).json()
        assert (saved["enabled"], saved["budget_per_session_usd"], saved["quality"]) == (
            True,
            "0.50",
            "draft",
        )
        await page.goto(f"{api.base_url}/cutscenes?campaign_id={CAMPAIGN}&session_id={SESSION}")
        await expect(page.locator("#media-off")).to_have_count(0)
        await page.evaluate("window.cutscenePlayer.close()")
        await page.goto("about:blank")


@pytest.fixture
async def signed_in_url(tmp_path: Path) -> AsyncIterator[str]:
    settings = local_settings(tmp_path, auth={"enabled": True, "tokens": [TOKEN]})
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
    ):
        yield base_url


async def test_pages_and_routes_need_a_token(page: Page, signed_in_url: str) -> None:
    await page.goto(f"{signed_in_url}/cutscenes")
    assert page.url.startswith(f"{signed_in_url}/login")
    async with httpx.AsyncClient(base_url=signed_in_url) as http:
        refused = await http.get("/api/media/gallery", params={"campaign_id": CAMPAIGN})
        assert refused.status_code == 401
        allowed = await http.get(
            "/api/media/gallery",
            params={"campaign_id": CAMPAIGN},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert allowed.json()["media"] == []
