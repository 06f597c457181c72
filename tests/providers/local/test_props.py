"""Sets and props from the words: every named thing of the vocabulary is drawn and shows, the
layout record says where, and the decoded pixels agree with the record."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from reelforge.imaging.sizes import ASPECT_RATIOS, resolve_size
from reelforge.prompts.characters import mentioned
from reelforge.providers.base import (
    TERMINAL_STATES,
    Capability,
    GenerationRequest,
    ProviderDeps,
    Succeeded,
)
from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.previz import draw_previz
from reelforge.providers.local.props import SCATTERED, SHAPES
from reelforge.providers.local.studio import LocalStudio, LocalStudioSettings
from reelforge.providers.local.vocabulary import VOCABULARY, things_named

MARA = CharacterBrief("Mara", "yellow oilskin coat, silver hair")
CAMERAS = ("wide shot", "full shot", "medium shot", "close-up")
PLACES = ("background", "ground", "wall", "water", "sky", "held", "ground", "overlay")
SPARSE = SCATTERED | {"birds"}  # marks scattered over their box, not a filled shape
SETTING = "Out in the country: "  # names the setting first, so both renders share it


def vocabulary_frames() -> list[tuple[str, ...]]:
    """The whole vocabulary, a few things a frame: one from each place in turn."""
    pools = {place: [t.name for t in VOCABULARY if t.place == place] for place in PLACES}
    frames: list[tuple[str, ...]] = []
    turn = 0
    while any(pools.values()):
        frame: list[str] = []
        for offset in range(len(PLACES)):
            pool = pools[PLACES[(turn + offset) % len(PLACES)]]
            if pool and len(frame) < 3:
                frame.append(pool.pop(0))
        frames.append(tuple(frame))
        turn += 1
    return frames


@pytest.fixture
async def studio() -> AsyncIterator[LocalStudio]:
    async with httpx.AsyncClient() as http:
        provider = LocalStudio(LocalStudioSettings(), ProviderDeps(http=http, environ={}))
        yield provider
        await provider.aclose()


async def render(studio: LocalStudio, brief: SceneBrief, seed: int) -> Succeeded:
    request = GenerationRequest(
        capability=Capability.TEXT_TO_IMAGE,
        prompt=brief.description,
        width=480,
        height=270,
        seed=seed,
        scene=brief,
    )
    handle = await studio.submit(request)
    for _ in range(3000):
        if isinstance(await studio.status(handle), TERMINAL_STATES):
            break
        await asyncio.sleep(0.02)
    return await studio.result(handle)


def decoded(result: Succeeded) -> npt.NDArray[np.int16]:
    data = result.outputs[0].data
    assert data is not None
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_the_vocabulary_is_broad_and_every_noun_has_a_drawing() -> None:
    names = [thing.name for thing in VOCABULARY]
    assert len(names) >= 60
    assert len(set(names)) == len(names)
    assert {thing.kind for thing in VOCABULARY} == {"set", "prop", "weather"}
    for thing in VOCABULARY:
        assert thing.shape in SHAPES or thing.shape in SCATTERED, thing.name
    demo = {"lighthouse", "cliff", "storm", "stairs", "lantern", "letter", "pier", "boat"}
    assert demo <= set(names)
    assert sorted(n for f in vocabulary_frames() for n in f) == sorted(names)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mara climbs the spiral STAIRS with a Lantern.", {"stairs", "lantern"}),
        ("Two boats; the boat's hull is green.", {"boat"}),
        ("Benches, ferries and knives.", {"bench", "ship", "knife"}),
        ("A street lamp beside the lamp.", {"street lamp", "lamp"}),
        ("Zo\u00eb\u2019s lighthouse in the rain", {"lighthouse", "rain"}),
        ("Mara watches; pan right, crane up, tilt down, then she steps back.", set()),
        ("Lighthouses and lighthousekeepers", {"lighthouse"}),
    ],
)
def test_words_name_things_in_any_case_plural_and_possessive(text: str, expected: set[str]) -> None:
    assert {thing.name for thing in things_named(text)} == expected


async def test_every_named_thing_is_drawn_visible_and_on_the_pixels(studio: LocalStudio) -> None:
    """The done-when check of issue 29, through the provider: the record lists exactly the named
    things, each inside the picture and mostly showing, and each box's pixels differ from the
    same frame rendered without it."""
    for index, names in enumerate(vocabulary_frames()):
        camera = CAMERAS[index % len(CAMERAS)]
        named = SceneBrief(
            f"F{index}", SETTING + ", ".join(f"a {name}" for name in names) + ".", camera,
            "overcast", characters=(MARA,),
        )  # fmt: skip
        plain = SceneBrief(f"F{index}", SETTING + "nothing in particular.", camera, "overcast",
                           characters=(MARA,))  # fmt: skip
        result, bare = await asyncio.gather(
            render(studio, named, index), render(studio, plain, index)
        )
        layout: dict[str, Any] = dict(result.metadata.extra["layout"])
        assert bare.metadata.extra["layout"]["things"] == []
        things = layout["things"]
        assert {t["name"] for t in things} == set(names), (camera, names)
        x0, y0, x1, y1 = layout["picture"]
        assert (x0, y0, x1) == (0, 0, 480)
        assert y1 == 270  # the whole frame: its text goes beside it, not into it
        pixels, background = decoded(result)[:y1], decoded(bare)[:y1]
        outside = np.ones(pixels.shape[:2], dtype=bool)
        for thing in things:
            left, top, right, bottom = thing["box"]
            context = (camera, names, thing)
            assert 0 <= left < right <= x1, context
            assert 0 <= top < bottom <= y1, context
            assert thing["visible"] >= 0.6, context
            box = np.s_[top:bottom, left:right]
            changed = np.abs(pixels[box] - background[box]).max(axis=2) > 24
            assert changed.mean() > (0.01 if thing["name"] in SPARSE else 0.2), context
            outside[max(0, top - 6) : bottom + 6, max(0, left - 6) : right + 6] = False
        if not any(t["kind"] == "weather" for t in things):  # nothing drawn outside the boxes
            assert np.array_equal(pixels[outside], background[outside]), (camera, names)


def test_the_shot_size_sets_the_scale() -> None:
    text = SETTING + "Mara holds a lantern beside a house."
    wide = draw_previz(SceneBrief("W", text, "wide shot", characters=(MARA,)),
                       width=640, height=360, seed=5).layout  # fmt: skip
    close = draw_previz(SceneBrief("C", text, "close-up", characters=(MARA,)),
                        width=640, height=360, seed=5).layout  # fmt: skip
    boxes = {(frame, t.name): t for frame, layout in (("wide", wide), ("close", close))
             for t in layout.things}  # fmt: skip
    lantern_wide, lantern_close = boxes["wide", "lantern"].box, boxes["close", "lantern"].box
    assert lantern_close[3] - lantern_close[1] > 3 * (lantern_wide[3] - lantern_wide[1])
    house = boxes["wide", "house"]
    assert house.visible > 0.95
    assert house.box[3] - house.box[1] < 0.5 * wide.picture[3]


DEMO_THINGS = {
    "SCENE_1_SHOT_1": {"lighthouse", "cliff", "storm"},
    "SCENE_1_SHOT_2": {"stairs", "lantern", "window", "rain"},
    "SCENE_1_SHOT_3": {"letter"},
    "SCENE_2_SHOT_1": {"pier", "boat"},
    "SCENE_2_SHOT_2": {"pier"},
    "SCENE_2_SHOT_3": {"letter"},
    "SCENE_3_SHOT_1": {"boat", "lighthouse"},
    "SCENE_3_SHOT_2": {"lamp"},
}


def test_the_demo_storyboard_draws_what_its_frames_name() -> None:
    sample = resources.files("reelforge.samples").joinpath("storyboard.json").read_text()
    board = json.loads(sample)
    cast = [CharacterBrief(c["name"], c["visual_signature"]) for c in board["character_profiles"]]
    for index, frame in enumerate(board["storyboard_frames"]):
        present = mentioned([frame["description"]], [c.name for c in cast])
        brief = SceneBrief(
            frame["frame_id"], frame["description"], frame["camera_notes"],
            frame["lighting_mood"], frame["prompt_seed"], tuple(cast[i] for i in present),
        )  # fmt: skip
        layout = draw_previz(brief, width=640, height=360, seed=1234 + index).layout
        assert {t.name for t in layout.things} == DEMO_THINGS[frame["frame_id"]]
        assert min(t.visible for t in layout.things) >= 0.6, layout
        assert layout.picture[3] == 360


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
@pytest.mark.parametrize("camera", ["wide shot", "medium shot", "close-up", "low angle, dutch"])
def test_every_aspect_ratio_and_angle_keeps_the_named_things_in_frame(
    ratio: str, camera: str
) -> None:
    width, height = resolve_size(ratio, 480, 270)
    text = "A lighthouse on a cliff, a boat by the pier; Mara holds a lantern in the rain."
    layout = draw_previz(SceneBrief("R", text, camera, characters=(MARA,)),
                         width=width, height=height, seed=9).layout  # fmt: skip
    assert {t.name for t in layout.things} == {
        "lighthouse", "cliff", "boat", "pier", "lantern", "rain"
    }  # fmt: skip
    for thing in layout.things:
        assert 0.0 <= thing.visible <= 1.0
        if "dutch" not in camera:  # a cant turns boxes past the frame's corners
            left, top, right, bottom = thing.box
            assert 0 <= left < right <= width, (ratio, camera, thing)
            assert 0 <= top < bottom <= layout.picture[3], (ratio, camera, thing)
            # A portrait medium or close shot is mostly figure: what stands behind it shows
            # only in part, and the record says so.
            assert thing.visible >= (0.5 if width >= height else 0.15), (ratio, camera, thing)


@pytest.mark.parametrize(("colour", "channel"), [("green", 1), ("red", 0), ("blue", 2)])
def test_a_colour_word_before_a_noun_colours_it(colour: str, channel: int) -> None:
    brief = SceneBrief("B", f"At the harbour, a small {colour} boat.", "wide shot", "overcast")
    previz = draw_previz(brief, width=640, height=360, seed=3)
    (boat,) = previz.layout.things
    left, top, right, bottom = boat.box
    hull = np.asarray(previz.image, dtype=np.int16)[(top + bottom) // 2 + 8 : bottom - 4,
                                                    left + 20 : right - 20]  # fmt: skip
    means = hull.reshape(-1, 3).mean(axis=0)
    assert means.argmax() == channel, means
