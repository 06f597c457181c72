"""Joining segments into a preview with PyAV: stream copy when the clips match, a re-encode
when they do not; the result decoded back."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image

from reelforge.errors import CorruptMedia
from reelforge.features.segments.assembly import join_clips
from reelforge.providers.local.animatic import render_animatic_bytes
from segments.segments_support import decoded_seconds


def _clip(folder: Path, name: str, seconds: float, size: tuple[int, int], fps: int) -> Path:
    frames = [Image.new("RGB", (320, 180), colour) for colour in ((200, 60, 40), (40, 60, 200))]
    path = folder / name
    path.write_bytes(
        render_animatic_bytes(
            frames, duration_s=seconds, camera="push-in", width=size[0], height=size[1], fps=fps
        )
    )
    return path


def _video_facts(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, frames


def test_matching_clips_are_stream_copied(tmp_path: Path) -> None:
    a = _clip(tmp_path, "a.mp4", 2.0, (256, 144), 12)
    b = _clip(tmp_path, "b.mp4", 3.0, (256, 144), 12)
    joined = join_clips([a, b, a], tmp_path / "out.mp4")
    assert joined.method == "stream_copy"
    assert joined.clips == 3
    assert joined.duration_s == pytest.approx(7.0)
    assert decoded_seconds(joined.path) == pytest.approx(7.0, abs=0.01)
    assert _video_facts(joined.path) == (256, 144, 24 + 36 + 24)


def test_clips_that_differ_are_encoded_again_at_the_first_ones_size(tmp_path: Path) -> None:
    a = _clip(tmp_path, "a.mp4", 2.0, (256, 144), 12)
    b = _clip(tmp_path, "b.mp4", 2.5, (192, 108), 24)
    joined = join_clips([a, b], tmp_path / "out.mp4")
    assert joined.method == "reencode"
    assert decoded_seconds(joined.path) == pytest.approx(4.5, abs=0.1)
    width, height, frames = _video_facts(joined.path)
    assert (width, height) == (256, 144)
    # The 24 fps clip is brought to the preview's 12 fps: 24 + 30 frames.
    assert frames == 24 + 30


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    with pytest.raises(CorruptMedia):
        join_clips([broken], tmp_path / "out.mp4")
