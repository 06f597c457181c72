"""The run page in a real browser (Playwright and Debian's Chromium) shows a ComfyUI job's
progress, step k of n, as its events arrive over SSE."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from fixtures import emulator as emulator_fixtures
from fixtures.browser import browser, page
from fixtures.comfyui import comfyui_settings
from fixtures.emulator import EmulatorControl
from fixtures.engine import open_engine_harness
from keyframes.keyframes_support import keyframes_settings, storyboard
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

__all__ = ["browser", "page"]


async def test_the_run_page_shows_a_running_job_s_steps(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl, page: Page
) -> None:
    # Long enough that the page is open while the sampler steps.
    await emulator.configure(latency_s=8.0, queue_s=0.05)
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url)
    providers = {**settings.providers, "comfyui": comfyui_settings(emulator_server.base_url)}
    settings = settings.model_copy(update={"providers": providers})
    body = storyboard(1, provider="comfyui")
    body["render_settings"]["steps"] = 20
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        started = await http.post(
            f"{harness.base_url}/v1/runs", json={"feature": "keyframes", "input": body}
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{harness.base_url}/runs/{run_id}")
        line = page.locator("[data-run-grid] [data-job-progress]")
        await expect(line).to_contain_text("of 20", timeout=30_000)
        value = await line.locator("progress").evaluate("p => p.value")
        assert 0 < value <= 100
        await expect(page.locator("[data-run-status]")).to_have_text("succeeded", timeout=60_000)
        assert errors == []
