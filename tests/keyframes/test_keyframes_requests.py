"""What ``POST /v1/keyframes`` refuses, and the dry run: over real HTTP, no engine, no provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.server import serve_app
from fixtures.services import local_settings
from keyframes.keyframes_support import spec_example, storyboard
from reelforge.api.app import create_app
from reelforge.services import open_services


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        open_services(local_settings(tmp_path), environ={}) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        yield http


def _six(**render_settings: Any) -> dict[str, Any]:
    body = storyboard(6, provider="local")
    body["render_settings"] = {**body["render_settings"], **render_settings}
    return body


async def _refusal(api: httpx.AsyncClient, body: Any) -> dict[str, Any]:
    response = await api.post("/v1/keyframes", json=body)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = dict(response.json()["error"])
    assert error["code"] == "INVALID_INPUT"
    return error


def _fields(error: dict[str, Any]) -> list[str]:
    return [problem["field"] for problem in error["details"]["fields"]]


async def test_unknown_fields_are_refused_by_name(api: httpx.AsyncClient) -> None:
    body = _six()
    body["storyboard_frames"][2]["colour"] = "red"
    body["render_settings"]["sampler"] = "euler"
    body["style"] = "noir"
    error = await _refusal(api, body)
    assert sorted(_fields(error)) == [
        "render_settings.sampler",
        "storyboard_frames.2.colour",
        "style",
    ]
    assert "storyboard_frames.2.colour" in error["message"]


async def test_duplicate_frame_ids_and_character_names_are_refused(
    api: httpx.AsyncClient,
) -> None:
    body = _six()
    body["storyboard_frames"][4]["frame_id"] = body["storyboard_frames"][1]["frame_id"]
    error = await _refusal(api, body)
    assert _fields(error) == ["storyboard_frames"]
    assert "duplicate frame_id 'SCENE_1_SHOT_2'" in error["details"]["fields"][0]["problem"]

    body = _six()
    body["character_profiles"].append({"name": "MARA", "visual_signature": "blue coat"})
    error = await _refusal(api, body)
    assert _fields(error) == ["character_profiles"]


async def test_six_to_twelve_frames_by_default(api: httpx.AsyncClient) -> None:
    for count in (1, 5, 13):
        error = await _refusal(api, storyboard(count, provider="local"))
        assert error["details"] == {"field": "storyboard_frames", "min": 6, "max": 12}
        assert f"got {count}" in error["message"]
    error = await _refusal(api, spec_example())
    assert error["details"]["field"] == "storyboard_frames"


RENDER_SETTINGS_REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"provider": "dall-e"}, "render_settings.provider"),
    ({"resolution": "1920x1080"}, "render_settings.resolution"),
    ({"resolution": "1024x1024", "aspect_ratio": "16:9"}, "render_settings.resolution"),
    ({"resolution": None, "aspect_ratio": "wide"}, "render_settings.aspect_ratio"),
    ({"steps": 0}, "render_settings.steps"),
    ({"seed": -1}, "render_settings.seed"),
]


async def test_render_settings_are_checked(api: httpx.AsyncClient) -> None:
    for render_settings, field in RENDER_SETTINGS_REFUSED:
        error = await _refusal(api, _six(**render_settings))
        named = error["details"].get("field") or _fields(error)[0]
        assert named == field, (render_settings, error)


async def test_a_dry_run_plans_and_prices_without_any_provider_call(
    api: httpx.AsyncClient,
) -> None:
    # No engine, no FAL_KEY, no network: a dry run needs none of them.
    body = _six(provider="fal_ai", model="flux-pro", resolution=None, seed=41)
    body["dry_run"] = True
    response = await api.post("/v1/keyframes", json=body)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["dry_run"] is True
    assert plan["total_usd"] == "0.24"  # 6 images at the flux-pro price fact
    assert [job["model"] for job in plan["per_job"]] == ["fal-ai/flux-pro/v1.1"] * 6
    render = plan["render_plan"]
    assert (render["provider"], render["width"], render["height"]) == ("fal", 1280, 720)
    assert render["template"] == {"name": "keyframes", "version": 1}
    assert [f["seed"] for f in render["frames"]] == [41, 42, 43, 44, 45, 46]
    assert all(f["characters"] == ["Mara"] for f in render["frames"])
    mara = {"name": "Mara", "matched_by": "name", "as_written": "mara"}
    assert all(f["cast"] == [mara] for f in render["frames"])
    assert "Featuring Mara (red scarf)." in render["frames"][0]["prompt"]
