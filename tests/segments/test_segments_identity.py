"""Measured continuity of segments: a local-studio run whose segments name characters with
reference photos measures each clip's poster frame against them with dlib. A close-up of the
character's face is under the threshold (``provider_metadata.identity``, ``quality_score``); a
segment that shows no face is measured as missing and warned about; a character whose reference
has no face is not measured at all."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from fixtures.portraits import astronaut, face_analyzer
from reelforge.services import Services
from segments.segments_support import request_body, segments_harness

pytestmark = pytest.mark.faces

THRESHOLD = 0.6
# The astronaut portrait's face (left, top, right, bottom), as dlib finds it.
_FACE = (179, 83, 267, 171)


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _close_up() -> Image.Image:
    """A 16:9 key frame filled by the astronaut's face, as a close-up frames it."""
    left, top, right, bottom = _FACE
    height = (bottom - top) * 2
    width = height * 16 / 9
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    box = (
        round(centre_x - width / 2),
        round(centre_y - height / 2),
        round(centre_x + width / 2),
        round(centre_y + height / 2),
    )
    return astronaut().crop(box).resize((640, 360))


async def _stored(services: Services, image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    record = await services.assets.ingest_bytes(buffer.getvalue(), source="upload")
    return services.store.public_url(record.key)


async def _request(services: Services) -> dict[str, Any]:
    breakwater = Image.new("RGB", (640, 360), (90, 110, 130))  # nobody in sight
    no_face = Image.new("RGB", (160, 160), (70, 120, 180))
    urls = [
        await _stored(services, _close_up()),
        await _stored(services, breakwater),
        await _stored(services, Image.new("RGB", (640, 360), (120, 100, 80))),
    ]
    body = request_body(
        [(1, 1), (2, 1), (3, 1)],
        urls,
        character_profiles=[
            {"name": "Mara", "reference_image_url": _data_uri(astronaut())},
            {"name": "Toby", "reference_image_url": _data_uri(no_face)},
        ],
    )
    words = [
        "Mara looks straight at us.",
        "Mara walks the far end of the breakwater, out of sight.",
        "Toby waves from the pilot boat.",
    ]
    for frame, description in zip(body["storyboard_frames"], words, strict=True):
        frame.update(description=description, prompt_seed="", camera_notes="static shot")
    return body


async def test_segment_posters_are_measured_against_the_references(tmp_path: Path) -> None:
    face_analyzer()  # skips where the dlib model files are not installed
    async with (
        segments_harness(tmp_path, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=240) as http,
    ):
        answered = await http.post("/v1/segments", json=await _request(harness.services))
        assert answered.status_code == 200, answered.text
        body = answered.json()
        assert body["failed_segments"] == []
        segments = {s["segment_id"]: s for s in body["video_segments"]}
        assert set(segments) == {"SEGMENT_1", "SEGMENT_2", "SEGMENT_3"}

        # The close-up's poster shows Mara's face, under the threshold.
        [check] = segments["SEGMENT_1"]["provider_metadata"]["identity"]
        assert check["character"] == "Mara"
        assert check["face_found"] is True
        assert check["distance"] < THRESHOLD
        assert check["passed"] is True
        assert segments["SEGMENT_1"]["quality_score"] == pytest.approx(
            1 - check["distance"], abs=1e-4
        )
        # Mara is named but out of frame: measured, missing, scored 0 and warned about.
        [missing] = segments["SEGMENT_2"]["provider_metadata"]["identity"]
        assert missing == {
            "character": "Mara",
            "reference": check["reference"],
            "face_found": False,
            "distance": None,
            "passed": False,
        }
        assert segments["SEGMENT_2"]["quality_score"] == 0
        # Toby's reference has no face: nothing to measure against.
        assert "identity" not in segments["SEGMENT_3"]["provider_metadata"]
        assert "quality_score" not in segments["SEGMENT_3"]
        assert body["warnings"] == ["SEGMENT_2: no face found for Mara."]

        # A later read returns the same stored, measured response.
        again = await http.get(f"/v1/segments/{body['run_id']}")
        assert again.status_code == 200, again.text
        assert again.json() == body
