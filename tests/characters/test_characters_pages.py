"""The character image workspace in headless Chromium: the detail page's Images link, the
prefilled prompt, generate, the 360° set, delete; and a suggestion never replacing what the user
typed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from characters.characters_support import Workspace, library_settings, open_workspace
from fixtures import emulator as emulator_fixtures
from fixtures.browser import browser, page
from fixtures.emulator import EmulatorControl
from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.emulator import EmulatorServer
from reelforge.features.characters.prompting import MASTER_FRAMING
from reelforge.services import open_services

__all__ = ["browser", "page"]

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

CARDS = "#image-grid .image-card"
ALL_IMAGES_LOADED = """(selector) => {
  const images = [...document.querySelectorAll(selector + ' img')];
  return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
}"""


@pytest.fixture
async def ws(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> AsyncIterator[Workspace]:
    async with open_workspace(library_settings(tmp_path / "data", emulator_server.base_url)) as w:
        yield w


async def test_generate_a_reference_then_a_360_set_then_delete_a_view(
    page: Page, ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    suggestion = (
        await ws.http.get(f"/v1/characters/{character['id']}/initial-image-prompt")
    ).json()["prompt"]

    await page.goto(f"{ws.base_url}/screenplay/characters/{character['id']}")
    await page.click("#images-link")
    await page.wait_for_url(f"{ws.base_url}/screenplay/characters/{character['id']}/images")
    await expect(page.locator("h1")).to_have_text("Mara Quell")
    back = page.locator("#back")
    assert await back.get_attribute("href") == f"/screenplay/characters/{character['id']}"

    prompt_box = page.locator("#reference-prompt")
    await expect(prompt_box).to_have_value(suggestion)
    edited = f"Mara Quell at the helm in the rain. Framing: {MASTER_FRAMING}"
    await prompt_box.fill(edited)
    await page.click("#generate-reference")
    reference_card = page.locator(f"{CARDS}[data-kind=reference]")
    await expect(reference_card).to_have_count(1)
    await expect(reference_card.locator(".prompt")).to_have_text(edited)
    await page.wait_for_function(ALL_IMAGES_LOADED, arg=CARDS)
    [stored] = await ws.images(character["id"])
    assert stored["prompt"] == edited
    await expect(page.locator("#reference-choices input[type=radio]")).to_be_checked()

    await page.click("#generate-portfolio")
    views = page.locator(f"{CARDS}[data-kind=portfolioItem]")
    await expect(views).to_have_count(8)
    await page.wait_for_function(ALL_IMAGES_LOADED, arg=CARDS)

    listed = await ws.images(character["id"])
    victim = next(image for image in listed if image["kind"] == "portfolioItem")
    victim_file = ws.media_path(victim["media"]["key"])
    assert victim_file.is_file()
    await page.click(f"{CARDS}[data-image-id='{victim['id']}'] button.delete")
    await expect(page.locator(f"{CARDS}[data-image-id='{victim['id']}']")).to_have_count(0)
    await expect(views).to_have_count(7)
    assert not victim_file.exists()
    assert victim["id"] not in {image["id"] for image in await ws.images(character["id"])}
    await expect(page.locator("#status")).to_have_text("Deleted.")

    await page.click(f"{CARDS}[data-kind=reference] button.delete")
    await expect(reference_card).to_have_count(0)
    await expect(page.locator("#status")).to_contain_text("Character Library deleted its copy")
    ledger = (await emulator.ledger("character_library"))["providers"]["character_library"]
    assert ledger["calls"] == {
        "reference_image": 1,
        "generate_360_set": 1,
        "delete_reference_image": 1,
    }


class GatedLlm:
    """An OpenAI-compatible endpoint whose answers wait until the test opens the gate."""

    def __init__(self, content: str) -> None:
        self.content = content
        self.gate = asyncio.Event()

    async def chat(self, _request: Request) -> JSONResponse:
        await self.gate.wait()
        message = {"role": "assistant", "content": self.content}
        return JSONResponse({"choices": [{"index": 0, "message": message}]})


async def _suggestions(page: Page, count: int) -> None:
    await page.wait_for_function(
        "(n) => Number(document.querySelector('[data-character-id]').dataset.suggestions) >= n",
        arg=count,
    )


async def test_a_suggestion_never_replaces_what_the_user_typed(page: Page, tmp_path: Path) -> None:
    llm = GatedLlm("Mara Quell by lantern light")
    llm_app = Starlette(routes=[Route("/v1/chat/completions", llm.chat, methods=["POST"])])
    async with serve_app(llm_app) as llm_url:
        settings = local_settings(
            tmp_path, characters={"suggester": "llm", "llm": {"base_url": f"{llm_url}/v1"}}
        )
        async with (
            open_services(settings, environ={}) as services,
            serve_app(create_app(services)) as base_url,
            httpx.AsyncClient(base_url=base_url, trust_env=False) as http,
        ):
            made = await http.post("/v1/characters", json={"name": "Mara Quell"})
            url = f"{base_url}/screenplay/characters/{made.json()['character']['id']}/images"
            from_llm = f"Mara Quell by lantern light. Framing: {MASTER_FRAMING}"

            # The page's own suggestion is rendered at once; the LLM's is still on its way.
            await page.goto(url)
            prompt_box = page.locator("#reference-prompt")
            await expect(prompt_box).to_have_value(
                f"Master reference image of Mara Quell. Framing: {MASTER_FRAMING}"
            )
            await prompt_box.fill("My own words for Mara")
            llm.gate.set()
            await _suggestions(page, 1)
            await expect(prompt_box).to_have_value("My own words for Mara")

            # Asking again offers the suggestion beside the box, and still keeps the text.
            await page.click("#suggest-prompt")
            await _suggestions(page, 2)
            await expect(prompt_box).to_have_value("My own words for Mara")
            await expect(page.locator("#suggestion-text")).to_have_text(from_llm)
            await page.click("#use-suggestion")
            await expect(prompt_box).to_have_value(from_llm)

            # Untouched, the box takes the suggestion as it arrives.
            await page.goto(url)
            await _suggestions(page, 1)
            await expect(prompt_box).to_have_value(from_llm)
