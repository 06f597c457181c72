"""The Cinematic Switch page names what is missing in the user's words, in a real browser."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import FilePayload, Page, expect

from fixtures.browser import browser, page
from transform.transform_support import astronaut, encoded, transform_app, transform_settings

__all__ = ["browser", "page"]


async def test_an_empty_form_asks_for_a_photo_and_a_description(tmp_path: Path, page: Page) -> None:
    settings = transform_settings(tmp_path / "data")
    async with transform_app(settings, environ={}, engine=False) as app:
        await page.goto(f"{app.base_url}/cinematic-switch")
        await page.click("#submit")
        error = page.locator("#error")
        await expect(error).to_have_text("Choose a photo or video. Describe the new scene.")
        await expect(error).not_to_contain_text("scene_description")

        await page.fill("#scene_description", "a knight in a castle courtyard at dawn")
        await page.click("#submit")
        await expect(error).to_have_text("Choose a photo or video.")

        await page.fill("#scene_description", "   ")
        photo = FilePayload(name="me.png", mimeType="image/png", buffer=encoded(astronaut()))
        await page.set_input_files("#media", files=[photo])
        await page.click("#submit")
        await expect(error).to_have_text("Describe the new scene.")
