"""Measured continuity: a local-studio storyboard with real reference photos (two public-domain
portraits) draws each character from its photo, and the run measures every frame that shows a
character against its reference with dlib: ``quality_score`` and ``provider_metadata.identity``
per frame, the consistency report and the warnings in the response, the same over
``GET /v1/runs/{id}``, MCP, and on the run page in Chromium."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image
from playwright.async_api import Page, expect

from fixtures import emulator as emulator_fixtures
from fixtures.browser import browser, page
from fixtures.engine import open_engine_harness
from fixtures.portraits import astronaut, face_analyzer, grace_hopper
from keyframes.keyframes_support import keyframes_settings
from reelforge.emulator import EmulatorServer
from reelforge.settings import Settings

__all__ = ["browser", "page"]

pytestmark = pytest.mark.faces

emulator_server = emulator_fixtures.emulator_server

THRESHOLD = 0.6


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _settings(tmp_path: Path, emulator_url: str) -> Settings:
    settings = keyframes_settings(tmp_path / "data", emulator_url)
    # Public URLs on the page's own origin, whatever port the test server gets.
    store = settings.store.model_copy(update={"public_base_url": "/media"})
    return settings.model_copy(update={"store": store})


def _request(frames: list[tuple[str, str, str]]) -> dict[str, Any]:
    plain = Image.new("RGB", (160, 160), (70, 120, 180))  # a reference with no face
    return {
        "storyboard_frames": [
            {"frame_id": f, "description": d, "camera_notes": c, "lighting_mood": "dawn"}
            for f, d, c in frames
        ],
        "character_profiles": [
            {"name": name, "visual_signature": look, "reference_image_url": _data_uri(photo)}
            for name, look, photo in (
                ("Mara", "red scarf", astronaut()),
                ("Grace", "navy uniform", grace_hopper()),
                ("Toby", "oilskin hat", plain),
            )
        ],
        "render_settings": {"provider": "local", "resolution": "1280x720", "seed": 7},
    }


FRAMES = [
    ("F1", "Mara looks out to sea from the quay.", "medium shot"),
    ("F2", "Grace reads the tide chart.", "close-up"),
    ("F3", "Mara and Grace argue by the crane.", "two-shot"),
    ("F4", "The harbour at dawn, empty quays.", "wide shot"),
    ("F5", "Mara walks the far end of the breakwater.", "extreme wide shot"),
    ("F6", "Toby waves from the pilot boat.", "medium shot"),
]


async def test_frames_are_measured_against_the_characters_reference_photos(
    page: Page, tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    face_analyzer()  # skips where the dlib model files are not installed
    settings = _settings(tmp_path, emulator_server.base_url)
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        accepted = await http.post(
            f"{harness.base_url}/v1/keyframes",
            json=_request(FRAMES),
            params={"wait_s": 0},
            timeout=60,
        )
        assert accepted.status_code == 202, accepted.text
        run_id = accepted.json()["run_id"]
        # The run page, opened while the frames render, shows the report once the run ends.
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{harness.base_url}/runs/{run_id}")
        await page.evaluate("window.notReloaded = true")
        assert await page.locator("[data-run-grid]").get_attribute("data-done") == "false"
        table = page.locator("[data-consistency]")
        await expect(table).to_be_visible(timeout=240_000)
        assert await page.evaluate("window.notReloaded === true")

        run = await http.get(f"{harness.base_url}/v1/runs/{run_id}", timeout=60)
        assert run.status_code == 200
        body = run.json()["response"]
        assert body["failed_frames"] == []
        frames = {f["frame_id"]: f for f in body["generated_frames"]}

        # Every frame that names a character with a face in its reference, close enough to
        # see, shows that face: under the threshold.
        shown = {"F1": {"Mara"}, "F2": {"Grace"}, "F3": {"Mara", "Grace"}}
        for frame_id, names in shown.items():
            checks = frames[frame_id]["provider_metadata"]["identity"]
            assert {c["character"] for c in checks} == names
            for check in checks:
                assert check["face_found"] is True, (frame_id, check)
                assert check["distance"] < THRESHOLD, (frame_id, check)
                assert check["passed"] is True
            worst = max(c["distance"] for c in checks)
            assert frames[frame_id]["quality_score"] == pytest.approx(1 - worst, abs=1e-4)
        # An extreme wide shot draws Mara too small to find: measured, missing, warned about.
        [far] = frames["F5"]["provider_metadata"]["identity"]
        assert far == {
            "character": "Mara",
            "reference": far["reference"],
            "face_found": False,
            "distance": None,
            "passed": False,
        }
        assert frames["F5"]["quality_score"] == 0
        # Nobody in F4; Toby's reference has no face: nothing to measure.
        for frame_id in ("F4", "F6"):
            assert "quality_score" not in frames[frame_id]
            assert "identity" not in frames[frame_id]["provider_metadata"]
        assert body["warnings"] == ["F5: no face found for Mara."]

        report = {row["character"]: row for row in body["consistency"]}
        assert set(report) == {"Mara", "Grace", "Toby"}
        mara = report["Mara"]
        assert (mara["frames"], mara["faces_found"], mara["passed"]) == (3, 2, 2)
        assert mara["reference_face"] is True
        assert set(mara["distances"]) == {"F1", "F3", "F5"}
        assert mara["distances"]["F5"] is None
        assert mara["worst_distance"] < THRESHOLD
        grace = report["Grace"]
        assert (grace["frames"], grace["faces_found"], grace["passed"]) == (2, 2, 2)
        toby = report["Toby"]
        assert toby["reference_face"] is False
        assert (toby["frames"], toby["faces_found"], toby["distances"]) == (1, 0, {})

        # The feature's own result is the same stored response.
        result = await http.get(f"{harness.base_url}/v1/keyframes/{run_id}")
        assert result.status_code == 200, result.text
        assert result.json()["consistency"] == body["consistency"]
        assert result.json()["warnings"] == body["warnings"]

        # The page shows the report and each frame's score, live, and again on a reload.
        await _page_shows(page, frames, report)
        await page.reload()
        await _page_shows(page, frames, report)
        assert errors == []


async def _page_shows(
    page: Page, frames: dict[str, dict[str, Any]], report: dict[str, dict[str, Any]]
) -> None:
    mara = report["Mara"]
    table = page.locator("[data-consistency]")
    await expect(table).to_have_count(1)
    row = table.locator('tr[data-character="Mara"]')
    await expect(row.locator("[data-frames]")).to_have_text("3")
    await expect(row.locator("[data-faces-found]")).to_have_text("2")
    await expect(row.locator('[data-frame="F5"]')).to_have_text("F5 no face")
    shown_f1 = f"F1 {mara['distances']['F1']:.2f}"
    await expect(row.locator('[data-frame="F1"]')).to_have_text(shown_f1)
    await expect(table.locator('tr[data-character="Toby"]')).to_contain_text(
        "no face in the reference"
    )
    await expect(page.locator("[data-warnings] li")).to_have_text(["F5: no face found for Mara."])
    card = page.locator('[data-label="F2"]')
    score = f"{frames['F2']['quality_score']:.2f}"
    await expect(card.locator("[data-quality-score]")).to_have_text(f"Quality score {score}")
    await expect(page.locator('[data-label="F4"] [data-quality-score]')).to_have_count(0)


async def test_the_mcp_tool_answers_with_the_scores(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    face_analyzer()
    settings = _settings(tmp_path, emulator_server.base_url)
    async with open_engine_harness(settings) as harness:
        client = httpx2.AsyncClient(timeout=300)
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
            made = await session.call_tool("render_storyboard_frames", _request(FRAMES[:1]))
    assert not made.is_error
    payload = made.structured_content or json.loads(made.content[0].text)  # type: ignore[union-attr]
    [frame] = payload["generated_frames"]
    [check] = frame["provider_metadata"]["identity"]
    assert check["character"] == "Mara"
    assert check["distance"] < THRESHOLD
    assert frame["quality_score"] == pytest.approx(1 - check["distance"], abs=1e-4)
    # The report covers the characters the frames show.
    [mara] = payload["consistency"]
    assert (mara["character"], mara["frames"], mara["faces_found"]) == ("Mara", 1, 1)


async def test_without_the_face_models_nothing_is_measured_and_a_warning_says_so(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    settings = _settings(tmp_path, emulator_server.base_url)
    empty = tmp_path / "no-models"
    empty.mkdir()
    providers = {**settings.providers, "local": {"face_models_dir": str(empty)}}
    settings = settings.model_copy(update={"providers": providers})
    async with open_engine_harness(settings) as harness, httpx.AsyncClient() as http:
        response = await http.post(
            f"{harness.base_url}/v1/keyframes", json=_request(FRAMES[:1]), timeout=300
        )
    assert response.status_code == 200, response.text
    body = response.json()
    [frame] = body["generated_frames"]
    assert "quality_score" not in frame
    assert "identity" not in frame["provider_metadata"]
    assert body["warnings"] == ["Identity not measured: the dlib face models are not installed."]
    assert body["consistency"] == []
