"""Animatics that keep the story readable, checked on decoded frames: no caption in any frame,
the subject's face in frame at every aspect ratio, and every key frame of a clip shown."""

from __future__ import annotations

import io
import json
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from reelforge.providers.base import Capability, GenerationRequest, InputImage
from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.rendering import LAYOUT_CHUNK, render
from reelforge.providers.local.studio import LocalStudioOptions, LocalStudioSettings

MARA = CharacterBrief("Mara", "silver hair in a braid, yellow oilskin coat, red scarf")
TOMAS = CharacterBrief("Tomas", "curly black hair, navy wool sweater")
SETTINGS = LocalStudioSettings(fps=8, encoder_preset="ultrafast")
MAGENTA = (255, 0, 255)


def rendered(request: GenerationRequest) -> bytes:
    data = render(request, LocalStudioOptions(), SETTINGS).outputs[0].data
    assert data is not None
    return data


def decoded(video: bytes) -> list[npt.NDArray[np.int16]]:
    with av.open(io.BytesIO(video), mode="r") as container:
        return [
            frame.to_ndarray(format="rgb24").astype(np.int16)
            for frame in container.decode(container.streams.video[0])
        ]


def clip(description: str, *, size: tuple[int, int] = (320, 180)) -> bytes:
    brief = SceneBrief(
        "SCENE_1_SHOT_2", description, "medium shot, push-in", "dawn", characters=(MARA,)
    )
    return rendered(
        GenerationRequest(
            Capability.TEXT_TO_VIDEO,
            description,
            width=size[0],
            height=size[1],
            duration_s=1.0,
            seed=4,
            scene=brief,
        )
    )


def test_no_caption_reaches_an_animatic() -> None:
    """The same shot with another caption makes the same frames: the words are not in them."""
    short = decoded(clip("Mara waits. Short caption."))
    long = decoded(clip("Mara waits. " + "A caption long enough to fill the band below. " * 5))
    assert len(short) == len(long) == 8
    assert all(np.array_equal(a, b) for a, b in zip(short, long, strict=True))


def over_the_shoulder_still() -> tuple[bytes, dict[str, Any]]:
    """A 16:9 over-the-shoulder still with the subject's face painted magenta (its layout
    record kept in the PNG), so the face can be found in the decoded clip."""
    brief = SceneBrief(
        "S",
        "Over Tomas's shoulder we see Mara.",
        "over the shoulder",
        "dawn",
        characters=(MARA, TOMAS),
    )
    still = rendered(
        GenerationRequest(
            Capability.TEXT_TO_IMAGE, brief.description, width=640, height=360, seed=7, scene=brief
        )
    )
    with Image.open(io.BytesIO(still)) as opened:
        text = str(opened.info[LAYOUT_CHUNK])
        image = opened.convert("RGB")
    layout = json.loads(text)
    (face,) = [f["face"] for f in layout["figures"] if f["name"] == layout["subject"]]
    ImageDraw.Draw(image).rectangle(face, fill=MAGENTA)
    info = PngImagePlugin.PngInfo()
    info.add_text(LAYOUT_CHUNK, text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue(), layout


@pytest.mark.parametrize("size", [(180, 320), (240, 240), (320, 180)])
def test_the_subjects_face_stays_in_frame_at_any_aspect_ratio(size: tuple[int, int]) -> None:
    still, layout = over_the_shoulder_still()
    (face,) = [f["face"] for f in layout["figures"] if f["name"] == "Mara"]
    centre = (face[0] + face[2]) / 2 / 640
    assert abs(centre - 0.5) > 0.1, "off-centre, where a centred portrait crop loses it"
    video = rendered(
        GenerationRequest(
            Capability.IMAGE_TO_VIDEO,
            "animate",
            width=size[0],
            height=size[1],
            duration_s=1.5,
            camera_notes="push-in",
            motion_strength=1.0,
            images=(InputImage("image/png", data=still),),
        )
    )
    frames = decoded(video)
    assert len(frames) == 12
    for index, frame in enumerate(frames):
        magenta = (np.abs(frame - np.array(MAGENTA)).max(axis=2) < 60).astype(np.uint8)
        assert magenta.sum() > 0.01 * size[0] * size[1], (size, index)
        edges = (magenta[:2].any(), magenta[-2:].any(), magenta[:, :2].any(), magenta[:, -2:].any())
        assert not any(edges), f"the face touches the frame's edge in frame {index} at {size}"


def solid(colour: tuple[int, int, int]) -> InputImage:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), colour).save(buffer, format="PNG")
    return InputImage("image/png", data=buffer.getvalue())


def test_a_clip_shows_each_of_its_key_frames_in_order() -> None:
    colours = [(220, 30, 30), (30, 200, 40), (30, 40, 220)]
    video = rendered(
        GenerationRequest(
            Capability.IMAGE_TO_VIDEO,
            "three",
            width=320,
            height=180,
            duration_s=3.0,
            camera_notes="static",
            images=tuple(solid(c) for c in colours),
        )
    )
    shown = []
    for frame in decoded(video):
        distance = [float(np.abs(frame - np.array(c)).mean()) for c in colours]
        if min(distance) < 8:
            shown.append(int(np.argmin(distance)))
    assert [k for i, k in enumerate(shown) if i == 0 or shown[i - 1] != k] == [0, 1, 2]
