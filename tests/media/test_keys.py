from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelforge.errors import InvalidInput
from reelforge.media.keys import (
    asset_key,
    cutscene_asset_key,
    join_key,
    new_asset_id,
    segment_key,
    thumbnail_key,
    validate_key,
)


def test_conventions() -> None:
    assert asset_key("abc123", "PNG") == "assets/abc123.png"
    assert asset_key("abc123", ".mp4") == "assets/abc123.mp4"
    assert thumbnail_key("abc123") == "thumbnails/abc123.jpg"
    assert (
        segment_key("proj-1", "ep_2", "r1", 3, 4)
        == "projects/proj-1/ep_2/segments/r1/segment_3_4.mp4"
    )
    assert cutscene_asset_key("camp", "a1", "png") == "camp/a1.png"
    assert join_key("a", 1, "b.png") == "a/1/b.png"
    assert len(new_asset_id()) == 32
    assert new_asset_id() != new_asset_id()


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs",
        "a/../b",
        "..",
        "a/./b",
        "a//b",
        "a/",
        "a b",
        "a\\b",
        "é.png",
        "a/b?c",
        "x" * 1025,
    ],
)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput):
        validate_key(key)


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (asset_key, ("../x", "png")),
        (asset_key, ("a/b", "png")),
        (asset_key, ("a", "p/g")),
        (thumbnail_key, ("..",)),
        (segment_key, ("p/q", "e", "r", 1, 1)),
        (segment_key, ("p", "e", "r/s", 1, 1)),
        (segment_key, ("p", "e", "r", -1, 1)),
    ],
)
def test_builders_refuse_unsafe_parts(call: object, args: tuple[object, ...]) -> None:
    with pytest.raises(InvalidInput):
        call(*args)  # type: ignore[operator]


@given(st.text(max_size=60))
def test_a_valid_key_never_escapes_the_root(text: str) -> None:
    try:
        key = validate_key(text)
    except InvalidInput:
        return
    parts = key.split("/")
    assert not key.startswith("/")
    assert not {"..", ".", ""} & set(parts)
