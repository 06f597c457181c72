"""What the keyframes tests share: the spec's example request, storyboards, settings."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from fixtures.engine import engine_settings
from reelforge.settings import Settings

__all__ = [
    "SPEC_EXAMPLE",
    "decode_image",
    "keyframes_settings",
    "storyboard",
]

# The spec's request, verbatim ("Interfaces & Contracts", MCP Tool render_storyboard_frames).
SPEC_EXAMPLE: dict[str, Any] = {
    "storyboard_frames": [
        {
            "frame_id": "SCENE_1_SHOT_1",
            "description": "string",
            "camera_notes": "string",
            "lighting_mood": "string",
            "prompt_seed": "string",
        }
    ],
    "character_profiles": [{"name": "string", "visual_signature": "string"}],
    "render_settings": {
        "provider": "fal_ai",
        "model": "flux-pro",
        "aspect_ratio": "16:9",
        "guidance_scale": 4.5,
        "steps": 24,
        "seed": 123456,
    },
}


def spec_example() -> dict[str, Any]:
    return copy.deepcopy(SPEC_EXAMPLE)


def storyboard(count: int, *, provider: str = "fal", seed: int = 100) -> dict[str, Any]:
    """``count`` small frames (512x288 keeps renders and ingest quick)."""
    return {
        "storyboard_frames": [
            {
                "frame_id": f"SCENE_{i // 3 + 1}_SHOT_{i % 3 + 1}",
                "description": f"Shot {i}: Mara looks out to sea.",
                "camera_notes": "wide shot",
                "lighting_mood": "dawn",
                "prompt_seed": f"seed-{i}",
            }
            for i in range(count)
        ],
        "character_profiles": [{"name": "Mara", "visual_signature": "red scarf"}],
        "render_settings": {
            "provider": provider,
            "resolution": "512x288",
            "aspect_ratio": "16:9",
            "seed": seed,
        },
    }


def keyframes_settings(
    data_dir: Path,
    emulator_url: str,
    *,
    engine: dict[str, Any] | None = None,
    **keyframes: Any,
) -> Settings:
    """The engine harness's settings, with quick key-frame retries and polls; one frame is
    allowed per request (the spec's example has one) unless ``min_frames`` says otherwise."""
    settings = engine_settings(data_dir, emulator_url, engine=engine)
    values = {"min_frames": 1, "retry_backoff_s": 0.05, "poll_interval_s": 0.1, **keyframes}
    return settings.model_copy(update={"keyframes": settings.keyframes.model_copy(update=values)})


async def decode_image(
    http: httpx.AsyncClient, base_url: str, settings: Settings, url: str
) -> Image.Image:
    """The image at a public store URL, fetched through the served API's ``/media`` route."""
    assert url.startswith(settings.public_base_url + "/"), url
    response = await http.get(
        base_url + "/media/" + url.removeprefix(settings.public_base_url + "/")
    )
    response.raise_for_status()
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image
