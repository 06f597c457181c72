"""Grouping key frames into segments: properties over generated storyboards, and the cases the
rules name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reelforge.errors import InvalidInput
from reelforge.features.segments.grouping import (
    MAX_SEGMENT_S,
    MAX_TOTAL_S,
    MIN_SEGMENT_S,
    group_frames,
)


@dataclass(frozen=True)
class Frame:
    frame_id: str
    scene_number: int
    shot_order: int
    duration_seconds: float | None


@st.composite
def storyboards(draw: st.DrawFn) -> list[Frame]:
    """1-3 scenes (any numbers, any order given) of 1-8 shots, durations sometimes missing."""
    scene_numbers = draw(st.lists(st.integers(0, 50), min_size=1, max_size=3, unique=True))
    frames = []
    for scene in scene_numbers:
        shots = draw(st.lists(st.integers(0, 99), min_size=1, max_size=8, unique=True))
        for shot in shots:
            duration = draw(st.none() | st.floats(0.1, 60.0, allow_nan=False))
            frames.append(Frame(f"S{scene}_{shot}", scene, shot, duration))
    return draw(st.permutations(frames))


@settings(max_examples=300, deadline=None)
@given(frames=storyboards(), per_segment=st.floats(2.0, 4.0))
def test_grouping_properties(frames: list[Frame], per_segment: float) -> None:
    grouping = group_frames(frames, duration_per_segment=per_segment)
    segments = grouping.segments
    by_id = {frame.frame_id: frame for frame in frames}
    # 1 to 3 segments, numbered in order.
    assert 1 <= len(segments) <= 3
    assert [s.segment_id for s in segments] == [f"SEGMENT_{i}" for i in range(1, len(segments) + 1)]
    # Never across a scene boundary.
    for segment in segments:
        assert {by_id[f].scene_number for f in segment.frame_ids} == {segment.scene_number}
    # Every frame exactly once, in scene-then-shot order.
    used = [frame_id for segment in segments for frame_id in segment.frame_ids]
    expected = [f.frame_id for f in sorted(frames, key=lambda f: (f.scene_number, f.shot_order))]
    assert used == expected
    # Each segment 2-4 s; at most 12 s in all.
    assert all(MIN_SEGMENT_S <= s.duration_s <= MAX_SEGMENT_S for s in segments)
    assert sum(s.duration_s for s in segments) <= MAX_TOTAL_S
    # A segment's key is its first shot.
    assert all(by_id[s.frame_ids[0]].shot_order == s.shot_order for s in segments)


@settings(max_examples=100, deadline=None)
@given(frames=storyboards())
def test_two_frames_per_segment_whenever_they_fit(frames: list[Frame]) -> None:
    scenes: dict[int, int] = {}
    for frame in frames:
        scenes[frame.scene_number] = scenes.get(frame.scene_number, 0) + 1
    pairs_needed = sum(-(-count // 2) for count in scenes.values())
    segments = group_frames(frames, duration_per_segment=3.0).segments
    if pairs_needed <= 3:
        assert len(segments) == pairs_needed
        assert all(len(s.frame_ids) <= 2 for s in segments)
    else:
        # Crowded: each scene keeps a segment, all three are used, sizes stay balanced.
        assert len(segments) == 3
        for scene in scenes:
            sizes = [len(s.frame_ids) for s in segments if s.scene_number == scene]
            assert max(sizes) - min(sizes) <= 1


def _frames(*spec: tuple[int, int, float | None]) -> list[Frame]:
    return [Frame(f"SCENE_{sc}_SHOT_{sh}", sc, sh, d) for sc, sh, d in spec]


def test_a_scene_with_one_shot_is_a_single_frame_segment() -> None:
    grouping = group_frames(
        _frames((1, 1, 2.0), (1, 2, 2.0), (2, 1, 3.0)), duration_per_segment=3.0
    )
    assert [s.frame_ids for s in grouping.segments] == [
        ("SCENE_1_SHOT_1", "SCENE_1_SHOT_2"),
        ("SCENE_2_SHOT_1",),
    ]
    assert grouping.segments[1].reason == "the only shot of scene 2"
    assert [s.duration_s for s in grouping.segments] == [4.0, 3.0]


def test_an_odd_shot_is_left_over_alone() -> None:
    grouping = group_frames(
        _frames((1, 1, 1.0), (1, 2, 1.0), (1, 3, 1.5)), duration_per_segment=3.0
    )
    assert [len(s.frame_ids) for s in grouping.segments] == [2, 1]
    # Too short on their own: held at 2 s.
    assert [s.duration_s for s in grouping.segments] == [2.0, 2.0]
    assert grouping.segments[1].shot_order == 3


def test_long_storyboards_are_scaled_to_twelve_seconds_then_held_within_four() -> None:
    # The bundled sample: 3 + 3 + 2 shots, 20.5 s of storyboard.
    grouping = group_frames(
        _frames(
            (1, 1, 3.0), (1, 2, 2.5), (1, 3, 2.0),
            (2, 1, 3.0), (2, 2, 2.5), (2, 3, 2.0),
            (3, 1, 3.0), (3, 2, 2.5),
        ),
        duration_per_segment=3.0,
    )  # fmt: skip
    assert [len(s.frame_ids) for s in grouping.segments] == [3, 3, 2]
    assert "3 segments at most" in grouping.segments[0].reason
    assert grouping.storyboard_total_s == 20.5
    assert grouping.scale == round(12 / 20.5, 4)
    assert [s.duration_s for s in grouping.segments] == [4.0, 4.0, 3.22]
    assert grouping.total_s <= 12


def test_missing_durations_share_the_segment_default() -> None:
    grouping = group_frames(_frames((1, 1, None), (1, 2, None)), duration_per_segment=2.5)
    assert grouping.segments[0].duration_s == 2.5
    assert grouping.to_json()["segments"][0]["storyboard_seconds"] == 2.5


def test_more_than_three_scenes_are_refused_naming_the_limit() -> None:
    with pytest.raises(InvalidInput) as refused:
        group_frames(
            _frames((1, 1, 3.0), (2, 1, 3.0), (3, 1, 3.0), (4, 1, 3.0)), duration_per_segment=3
        )
    assert "at most 3 segments" in refused.value.message
    assert "4 (scenes 1, 2, 3, 4)" in refused.value.message
    assert refused.value.details == {"max_segments": 3, "scenes": 4}
