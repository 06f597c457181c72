"""The request as the spec has it: validation, normalisation and order; refusals over REST in
the public envelope; a dry run that calls nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.server import serve_app
from reelforge.api.app import create_app
from reelforge.cli.demo import load_sample_storyboard
from reelforge.emulator import EmulatorServer
from reelforge.errors import InvalidInput
from reelforge.features.segments.delivery import spec_error_code
from reelforge.features.segments.grouping import group_frames
from reelforge.features.segments.schemas import key_frames, parse_request, request_from_keyframes
from reelforge.providers.registry import PROVIDER_CLASSES, vendor_error_codes
from reelforge.services import open_services
from reelforge.settings import Settings
from segments.segments_support import request_body

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

URLS = [f"https://images.example/frame-{i}.png" for i in range(8)]


def test_frames_are_paired_sorted_and_their_whitespace_normalised() -> None:
    body = request_body([(2, 1), (1, 2), (1, 1)], URLS)
    body["storyboard_frames"][2]["description"] = "  Mara   reads\n\tthe letter ,  slowly.  "
    body["storyboard_frames"][2]["camera_notes"] = "close-up,\n slow   push-in"
    body["storyboard_frames"].reverse()  # the storyboard's order does not matter
    frames = key_frames(parse_request(body))
    assert [f.frame_id for f in frames] == ["SCENE_1_SHOT_1", "SCENE_1_SHOT_2", "SCENE_2_SHOT_1"]
    first = frames[0]
    assert first.description == "Mara reads the letter , slowly."
    assert first.camera_notes == "close-up, slow push-in"
    assert first.image_url == URLS[2]
    assert first.lighting_mood == "dawn, soft pink light"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda b: b["storyboard_frames"].pop(),
            "generated frames without a storyboard frame: SCENE_2_SHOT_1",
        ),
        (
            lambda b: b["generated_frames"].pop(0),
            "storyboard frames without a generated frame: SCENE_1_SHOT_1",
        ),
        (
            lambda b: b["generated_frames"].append(dict(b["generated_frames"][0])),
            "frame_id 'SCENE_1_SHOT_1' appears twice in generated_frames",
        ),
        (
            lambda b: b["generated_frames"][1].update(shot_order=1),
            "are both scene 1, shot 1",
        ),
    ],
    ids=["storyboard-missing", "generated-missing", "duplicate-id", "same-shot"],
)
def test_unmatched_or_repeated_frames_are_invalid_input(change: Any, expected: str) -> None:
    body = request_body([(1, 1), (1, 2), (2, 1)], URLS)
    change(body)
    with pytest.raises(InvalidInput) as refused:
        key_frames(parse_request(body))
    assert expected in refused.value.message


def test_field_errors_name_the_field() -> None:
    body = request_body([(1, 1)], URLS, video_settings={"motion_strength": 3})
    body["project_context"]["project_id"] = "../etc"
    with pytest.raises(InvalidInput) as refused:
        parse_request(body)
    fields = {p["field"] for p in refused.value.details["fields"]}
    assert fields == {"video_settings.motion_strength", "project_context.project_id"}


@pytest.fixture
async def api(tmp_path: Path, emulator_server: EmulatorServer) -> AsyncIterator[str]:
    settings = Settings(
        data_dir=tmp_path / "data",
        auth={"enabled": False},
        providers={"fal": {"base_url": f"{emulator_server.base_url}/fal"}},
    )
    async with (
        open_services(settings, environ={"FAL_KEY": "emulator-fal-key"}) as services,
        serve_app(create_app(services)) as base_url,
    ):
        yield base_url


async def test_rest_refusals_use_the_public_envelope(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        mismatched = request_body([(1, 1), (1, 2)], URLS)
        mismatched["storyboard_frames"].pop()
        refused = await http.post("/v1/segments", json=mismatched)
        four_scenes = request_body([(1, 1), (2, 1), (3, 1), (4, 1)], URLS)
        too_many = await http.post("/v1/segments", json=four_scenes)
        no_frames = await http.post("/v1/segments", json={"project_context": {}})
        no_run = await http.post("/v1/runs/no-such-run/assemble")
        no_segments = await http.get("/v1/segments/no-such-run")
    assert refused.status_code == 400
    assert refused.json()["success"] is False
    error = refused.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert error["details"]["generated_without_storyboard"] == ["SCENE_1_SHOT_2"]
    assert too_many.status_code == 400
    assert "at most 3 segments" in too_many.json()["error"]["message"]
    assert no_frames.status_code == 400
    assert no_frames.json()["error"]["code"] == "INVALID_INPUT"
    assert no_run.status_code == no_segments.status_code == 404
    assert no_run.json()["error"]["code"] == "NOT_FOUND"


async def test_a_dry_run_estimates_and_plans_without_calling_anything(
    api: str, emulator: EmulatorControl
) -> None:
    body = request_body(
        [(1, 1), (1, 2), (1, 3), (2, 1)], URLS, provider="fal-ai", durations=[3, 3, 2, 5]
    )
    body["dry_run"] = True
    async with httpx.AsyncClient(base_url=api) as http:
        response = await http.post("/v1/segments", json=body)
        runs = await http.get("/v1/jobs")
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["dry_run"] is True
    assert plan["provider"] == "fal"
    assert [job["provider"] for job in plan["per_job"]] == ["fal"] * 3
    assert float(plan["total_usd"]) > 0
    segments = plan["segments"]
    assert [s["associated_frames"] for s in segments] == [
        ["SCENE_1_SHOT_1", "SCENE_1_SHOT_2"],
        ["SCENE_1_SHOT_3"],
        ["SCENE_2_SHOT_1"],
    ]
    assert [s["duration_seconds"] for s in segments] == [4.0, 2.0, 4.0]
    # fal takes one key frame; the prompt holds every frame's words verbatim.
    assert segments[0]["key_frames"] == ["SCENE_1_SHOT_1"]
    prompt = segments[0]["prompt"]
    for text in (
        "Mara crosses the harbour, shot 1.1",
        "Mara crosses the harbour, shot 1.2",
        "Camera: slow push-in",
        "Lighting: dawn, soft pink light",
        "harbour-1-1",
        "harbour-1-2",
    ):
        assert text in prompt
    assert segments[0]["prompt_template"]["name"] == "segment_motion"
    assert plan["grouping"]["total_seconds"] == 10.0
    ledger = await emulator.ledger("fal")
    assert ledger["calls"] == []
    # No engine here: nothing was started (the jobs route lists no job).
    assert runs.json()["jobs"] == []


def test_vendor_error_codes_are_the_specs_provider_error() -> None:
    codes = vendor_error_codes(PROVIDER_CLASSES.values())
    assert spec_error_code("FAL_ERROR", codes) == "provider_error"
    assert spec_error_code("LOCAL_STUDIO_ERROR", codes) == "provider_error"
    assert spec_error_code("provider_timeout", codes) == "provider_timeout"
    assert spec_error_code("content_rejected", codes) == "content_rejected"


def test_the_sample_storyboard_and_keyframes_output_make_three_segments() -> None:
    storyboard = load_sample_storyboard()["storyboard_frames"]
    generated = [
        {"frame_id": f["frame_id"], "image_url": URLS[i], "negative_prompts": []}
        for i, f in enumerate(storyboard)
    ]
    request = request_from_keyframes(
        storyboard, generated, {"project_id": "demo", "episode_id": "lighthouse"}
    )
    grouping = group_frames(key_frames(request), duration_per_segment=3.0)
    assert [len(s.frame_ids) for s in grouping.segments] == [3, 3, 2]
    assert grouping.total_s <= 12
    with pytest.raises(InvalidInput, match="SCENE_<n>_SHOT_<m>"):
        request_from_keyframes(
            storyboard, [{"frame_id": "OPENING", "image_url": URLS[0]}], {"project_id": "p"}
        )
