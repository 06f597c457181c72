"""The local studio honours characters' reference photos: a previz frame draws each character
from its reference (the face found again by dlib, near the reference's identity), a 360° set
turns the figure (eight silhouettes, the face only where the view faces the camera), and an
animatic keeps the faces of the frames it animates."""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from fixtures.portraits import astronaut, face_analyzer, grace_hopper, png_bytes
from reelforge.imaging.faces import Embedding, FaceAnalyzer
from reelforge.providers.base import Capability, GenerationRequest, InputImage
from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.rendering import render
from reelforge.providers.local.studio import LocalStudio, LocalStudioOptions, LocalStudioSettings
from reelforge.providers.local.turnaround import VIEW_YAW

pytestmark = pytest.mark.faces

THRESHOLD = 0.6  # dlib's same-person line
BACKDROP = np.array([232, 232, 226])


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return face_analyzer()


@pytest.fixture(scope="module")
def portraits(analyzer: FaceAnalyzer) -> dict[str, tuple[InputImage, Embedding]]:
    """Each portrait as a reference image, and its face's embedding."""
    return {
        name: (InputImage("image/png", png_bytes(image)), analyzer.describe(image))
        for name, image in (("Mara", astronaut()), ("Grace", grace_hopper()))
    }


def _made(request: GenerationRequest) -> tuple[bytes, Mapping[str, Any]]:
    result = render(request, LocalStudioOptions(), LocalStudioSettings())
    [output] = result.outputs
    assert output.data is not None
    return output.data, result.metadata.extra


def _still(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _distances(
    analyzer: FaceAnalyzer, image: Image.Image, references: dict[str, Embedding]
) -> dict[str, float]:
    """Each reference's nearest face in ``image`` (a reference with no face near is left out)."""
    found = [analyzer.describe(image, face) for face in analyzer.detect(image)]
    nearest = {}
    for name, reference in references.items():
        gaps = [float(np.linalg.norm(face - reference)) for face in found]
        if gaps:
            nearest[name] = min(gaps)
    return nearest


def _frame_request(
    camera_notes: str, cast: tuple[CharacterBrief, ...], references: tuple[InputImage, ...]
) -> GenerationRequest:
    scene = SceneBrief(
        frame_id="SC1_SHOT1",
        description="Mara and Grace talk on the quay at dawn.",
        camera_notes=camera_notes,
        lighting_mood="dawn",
        characters=cast,
    )
    return GenerationRequest(
        Capability.TEXT_TO_IMAGE,
        "Mara and Grace talk on the quay",
        width=1280,
        height=720,
        seed=11,
        scene=scene,
        references=references,
    )


@pytest.mark.parametrize("camera_notes", ["medium shot", "close-up", "two-shot", "full shot"])
def test_a_previz_frame_draws_each_character_from_its_reference(
    camera_notes: str,
    analyzer: FaceAnalyzer,
    portraits: dict[str, tuple[InputImage, Embedding]],
) -> None:
    two = camera_notes in ("two-shot", "full shot")
    # The references arrive in another order than the cast: each character names its own.
    both = (CharacterBrief("Mara", "red scarf", 1), CharacterBrief("Grace", "navy uniform", 0))
    cast = both if two else both[:1]
    references = (portraits["Grace"][0], portraits["Mara"][0])
    data, extra = _made(_frame_request(camera_notes, cast, references))
    assert extra["reference_figures"] == [c.name for c in cast]
    wanted = {c.name: portraits[c.name][1] for c in cast}
    distances = _distances(analyzer, _still(data), wanted)
    assert set(distances) == set(wanted)
    assert all(distance < THRESHOLD for distance in distances.values()), distances
    # And the other person's face is not what was found for either.
    others = _distances(analyzer, _still(data), {"x": portraits["Grace"][1]}) if not two else {}
    assert all(distance > THRESHOLD for distance in others.values()), others


def test_without_a_usable_reference_the_figure_is_drawn_as_before(
    analyzer: FaceAnalyzer, portraits: dict[str, tuple[InputImage, Embedding]]
) -> None:
    faceless = InputImage("image/png", png_bytes(Image.new("RGB", (200, 200), (90, 140, 200))))
    cast = (CharacterBrief("Mara", "red scarf", 0),)
    plain, _ = _made(_frame_request("medium shot", (CharacterBrief("Mara", "red scarf"),), ()))
    with_faceless, extra = _made(_frame_request("medium shot", cast, (faceless,)))
    assert with_faceless == plain
    assert "reference_figures" not in extra
    with_photo, _ = _made(_frame_request("medium shot", cast, (portraits["Mara"][0],)))
    assert with_photo != plain


def test_the_studio_declares_the_references_it_takes() -> None:
    assert LocalStudio.reference_limit(Capability.TEXT_TO_IMAGE) == 6
    assert LocalStudio.reference_limit(Capability.TEXT_TO_VIDEO) == 6
    assert LocalStudio.reference_limit(Capability.IMAGE_TO_VIDEO) == 0


def _view(view: str, reference: InputImage) -> tuple[Image.Image, Mapping[str, Any]]:
    scene = SceneBrief(
        frame_id="VIEW",
        description="Mara, 360-degree turnaround",
        characters=(CharacterBrief("Mara", "red scarf, black hair"),),
        view=view,
    )
    request = GenerationRequest(
        Capability.IMAGE_TO_IMAGE,
        f"Mara. 360-degree turnaround, {view} view.",
        width=720,
        height=720,
        images=(reference,),
        scene=scene,
    )
    data, extra = _made(request)
    return _still(data), extra


def _silhouette(image: Image.Image) -> npt.NDArray[np.bool_]:
    """The figure's pixels: what differs from the backdrop, above the caption band."""
    pixels = np.asarray(image, np.int16)[: round(image.height * 0.9)]
    mask: npt.NDArray[np.bool_] = np.abs(pixels - BACKDROP).sum(axis=-1) > 30
    return mask


def test_the_360_set_turns_the_figure(
    analyzer: FaceAnalyzer, portraits: dict[str, tuple[InputImage, Embedding]]
) -> None:
    reference, embedding = portraits["Mara"]
    views = {name: _view(name, reference) for name in VIEW_YAW}
    masks = {name: _silhouette(image) for name, (image, _) in views.items()}
    for first, second in itertools.combinations(masks, 2):
        a, b = masks[first], masks[second]
        iou = float((a & b).sum() / (a | b).sum())
        assert iou < 0.95, (first, second, iou)
    # A profile is narrower than the front.
    assert masks["right"].any(axis=0).sum() < 0.8 * masks["front"].any(axis=0).sum()

    faces = {name: extra["view"]["face"] for name, (_, extra) in views.items()}
    assert faces == {
        "front": "reference",
        "front-right": "reference",
        "right": "hidden",
        "back-right": "hidden",
        "back": "hidden",
        "back-left": "hidden",
        "left": "hidden",
        "front-left": "reference",
    }
    front = _distances(analyzer, views["front"][0], {"Mara": embedding})
    assert front["Mara"] < THRESHOLD
    for hidden in ("right", "back", "left"):
        assert analyzer.detect(views[hidden][0]) == [], hidden


def _decoded(data: bytes, folder: Path) -> list[Image.Image]:
    path = folder / "clip.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        return [
            Image.fromarray(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)
        ]


@pytest.mark.parametrize("capability", [Capability.IMAGE_TO_VIDEO, Capability.TEXT_TO_VIDEO])
def test_an_animatic_keeps_the_reference_faces(
    capability: Capability,
    tmp_path: Path,
    analyzer: FaceAnalyzer,
    portraits: dict[str, tuple[InputImage, Embedding]],
) -> None:
    reference, embedding = portraits["Mara"]
    cast = (CharacterBrief("Mara", "red scarf", 0),)
    still = _frame_request("medium shot", cast, (reference,))
    fields: dict[str, object] = {"scene": still.scene, "references": (reference,)}
    if capability is Capability.IMAGE_TO_VIDEO:
        frame, _ = _made(still)
        fields = {"images": (InputImage("image/png", frame),)}
    request = GenerationRequest(
        capability,
        "Mara on the quay, slow push-in",
        width=1280,
        height=720,
        duration_s=1.0,
        camera_notes="medium shot, slow push-in",
        seed=3,
        **fields,
    )
    data, _ = _made(request)
    frames = _decoded(data, tmp_path)
    for image in (frames[0], frames[-1]):
        distances = _distances(analyzer, image, {"Mara": embedding})
        assert distances["Mara"] < THRESHOLD
