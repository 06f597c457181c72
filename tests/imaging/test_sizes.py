"""Frame sizes from an aspect ratio: even sides inside the cap, bad ratios refused."""

from __future__ import annotations

import pytest

from reelforge.errors import InvalidInput
from reelforge.imaging.sizes import resolve_size


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("16:9", (1280, 720)),
        ("9:16", (404, 720)),
        ("1:1", (720, 720)),
        ("4:3", (960, 720)),
        ("21:9", (1280, 548)),
        ("2.39:1", (1280, 534)),
    ],
)
def test_resolve_size_fits_the_cap_with_even_sides(ratio: str, size: tuple[int, int]) -> None:
    assert resolve_size(ratio) == size
    width, height = resolve_size(ratio, 1921, 1081)
    assert width % 2 == 0
    assert height % 2 == 0
    assert width <= 1921
    assert height <= 1081


@pytest.mark.parametrize("ratio", ["", "16", "16:0", "wide", "-1:2", "1:100000"])
def test_resolve_size_rejects_bad_ratios(ratio: str) -> None:
    with pytest.raises(InvalidInput):
        resolve_size(ratio)
