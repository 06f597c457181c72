"""Scaling a still down to fit a cap: sizes, formats kept, alpha kept, decoded back."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from reelforge.errors import CorruptMedia
from reelforge.imaging.downscale import fit_size, fit_within


def encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("size", "fitted"),
    [
        ((1368, 768), (1280, 719)),  # Gemini's 16:9
        ((1920, 1080), (1280, 720)),
        ((720, 1280), (405, 720)),  # portrait into the landscape cap
        ((2000, 500), (1280, 320)),
        ((1280, 720), (1280, 720)),  # fits: unchanged
        ((640, 360), (640, 360)),  # smaller: never enlarged
    ],
)
def test_fit_size_keeps_the_aspect_ratio(size: tuple[int, int], fitted: tuple[int, int]) -> None:
    assert fit_size(*size, 1280, 720) == fitted


@pytest.mark.parametrize(
    ("fmt", "mode", "content_type"),
    [
        ("PNG", "RGBA", "image/png"),
        ("PNG", "RGB", "image/png"),
        ("JPEG", "RGB", "image/jpeg"),
        ("WEBP", "RGB", "image/webp"),
        ("GIF", "P", "image/png"),
    ],
)
def test_an_image_over_the_cap_is_scaled_in_its_own_format(
    fmt: str, mode: str, content_type: str
) -> None:
    picture = Image.new("RGBA" if mode == "RGBA" else "RGB", (1368, 768), (200, 30, 30, 255))
    picture.paste((20, 20, 200, 0) if mode == "RGBA" else (20, 20, 200), (684, 0, 1368, 768))
    if mode == "P":
        source = picture.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    else:
        source = picture
    fitted = fit_within(encoded(source, fmt), 1280, 720)
    assert fitted is not None
    assert (fitted.width, fitted.height, fitted.content_type) == (1280, 719, content_type)
    decoded = Image.open(io.BytesIO(fitted.data))
    decoded.load()
    assert decoded.size == (1280, 719)
    assert decoded.format == content_type.split("/")[1].upper()
    expected = Image.open(io.BytesIO(encoded(source, fmt))).convert("RGB").getpixel((100, 300))
    left = decoded.convert("RGBA").getpixel((100, 300))
    assert isinstance(left, tuple)
    assert isinstance(expected, tuple)
    assert left[:3] == pytest.approx(expected, abs=4)
    if mode == "RGBA":
        right = decoded.getpixel((1200, 300))
        assert isinstance(right, tuple)
        assert right[3] == 0  # transparency kept


def test_an_image_inside_the_cap_is_left_alone() -> None:
    assert fit_within(encoded(Image.new("RGB", (1280, 720)), "PNG"), 1280, 720) is None


def test_undecodable_bytes_are_corrupt_media() -> None:
    with pytest.raises(CorruptMedia):
        fit_within(b"\x89PNG\r\n\x1a\n not really", 1280, 720)
