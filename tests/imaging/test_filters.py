"""Style filters: every preset changes the picture in its own way and keeps its size."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import skimage.data
from PIL import Image

from reelforge.errors import InvalidInput
from reelforge.imaging.filters import STYLE_PRESETS, apply_style

REQUIRED = ("noir", "vintage", "comic", "watercolor", "cinematic")


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A real photo (scikit-image's astronaut), at an odd, non-square size."""
    pixels: npt.NDArray[np.uint8] = skimage.data.astronaut()  # type: ignore[no-untyped-call]
    return Image.fromarray(pixels).resize((301, 240))


def array(image: Image.Image) -> npt.NDArray[np.float64]:
    return np.asarray(image.convert("RGB"), dtype=np.float64)


def test_presets_are_listed_with_descriptions() -> None:
    assert set(REQUIRED) <= set(STYLE_PRESETS)
    for name, description in STYLE_PRESETS.items():
        assert name == name.lower()
        assert 10 < len(description) < 100
        assert "\n" not in description


@pytest.mark.parametrize("preset", list(STYLE_PRESETS))
def test_each_preset_changes_the_image_and_keeps_its_size(photo: Image.Image, preset: str) -> None:
    styled = apply_style(photo, preset)
    assert styled.size == photo.size
    assert styled.mode == "RGB"
    assert np.abs(array(styled) - array(photo)).mean() > 8.0
    assert apply_style(photo, preset).tobytes() == styled.tobytes(), "deterministic"


def test_noir_and_sketch_are_black_and_white(photo: Image.Image) -> None:
    for preset in ("noir", "sketch"):
        styled = array(apply_style(photo, preset))
        assert np.array_equal(styled[..., 0], styled[..., 1])
        assert np.array_equal(styled[..., 1], styled[..., 2])
    gray = array(photo).mean(axis=2)
    noir = array(apply_style(photo, "noir"))[..., 0]
    assert noir.std() > gray.std(), "noir adds contrast"


def test_vintage_is_sepia(photo: Image.Image) -> None:
    styled = array(apply_style(photo, "vintage"))
    red, green, blue = (styled[..., c].mean() for c in range(3))
    assert red > green > blue + 15


def test_cinematic_is_teal_in_shadows_and_warm_in_highlights() -> None:
    ramp = np.repeat(np.linspace(0, 255, 256).astype(np.uint8)[None, :, None], 3, axis=2)
    graded = array(apply_style(Image.fromarray(np.repeat(ramp, 8, axis=0)), "cinematic"))[0]
    shadows, highlights = graded[60:110], graded[150:200]
    assert (shadows[:, 2] - shadows[:, 0]).mean() > 10
    assert (highlights[:, 0] - highlights[:, 2]).mean() > 10


def test_comic_flattens_colours_and_inks_edges(photo: Image.Image) -> None:
    styled = np.asarray(apply_style(photo, "comic"))
    before = len(np.unique(np.asarray(photo).reshape(-1, 3), axis=0))
    after = len(np.unique(styled.reshape(-1, 3), axis=0))
    assert after < before / 10
    ink = (np.abs(styled.astype(int) - np.array([20, 16, 24])).max(axis=2) == 0).mean()
    assert 0.02 < ink < 0.4


def test_watercolor_is_lighter_and_softer(photo: Image.Image) -> None:
    styled = array(apply_style(photo, "watercolor"))
    original = array(photo)
    assert styled.mean() > original.mean() + 10
    detail = np.abs(np.diff(original.mean(axis=2), axis=1)).mean()
    assert np.abs(np.diff(styled.mean(axis=2), axis=1)).mean() < detail


def test_strength_blends_with_the_original(photo: Image.Image) -> None:
    assert apply_style(photo, "noir", strength=0.0).tobytes() == photo.tobytes()
    full = np.abs(array(apply_style(photo, "noir")) - array(photo)).mean()
    half = np.abs(array(apply_style(photo, "noir", strength=0.5)) - array(photo)).mean()
    assert 0.4 * full < half < 0.6 * full


def test_alpha_and_other_modes_are_handled(photo: Image.Image) -> None:
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.new("L", photo.size, 128))
    styled = apply_style(rgba, "vintage")
    assert styled.mode == "RGBA"
    assert styled.getchannel("A").tobytes() == rgba.getchannel("A").tobytes()
    assert apply_style(photo.convert("L"), "cinematic").size == photo.size


def test_unknown_preset_lists_the_valid_ones(photo: Image.Image) -> None:
    with pytest.raises(InvalidInput) as caught:
        apply_style(photo, "oil-painting")
    for name in REQUIRED:
        assert name in caught.value.message
    assert caught.value.details["valid"] == list(STYLE_PRESETS)


@pytest.mark.parametrize("strength", [-0.1, 1.01, float("nan")])
def test_strength_out_of_range_is_invalid_input(photo: Image.Image, strength: float) -> None:
    with pytest.raises(InvalidInput):
        apply_style(photo, "comic", strength=strength)
