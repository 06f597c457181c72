"""The MP4/QuickTime sample-table check that lets ingest skip demuxing every packet."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from media.media_support import SampleMedia, video_bytes
from reelforge.errors import CorruptMedia
from reelforge.media.probe import _scan_video, probe_media
from reelforge.media.sample_tables import iso_samples_within
from reelforge.media.sniff import sniff


def within(data: bytes) -> bool:
    return iso_samples_within(io.BytesIO(data), len(data))


def top_level_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of each top-level box (32-bit sizes only, as ffmpeg writes here)."""
    boxes, position = [], 0
    while position < len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        boxes.append((data[position + 4 : position + 8], position, size))
        position += size
    return boxes


def with_mdat_cut(data: bytes, keep: float) -> bytes:
    """Cut a faststart MP4 inside its trailing ``mdat`` and rewrite the box size to match, so
    every top-level box looks whole while the samples at the end are gone."""
    kind, offset, size = top_level_boxes(data)[-1]
    assert kind == b"mdat"
    cut = data[: offset + int(size * keep)]
    return cut[:offset] + (len(cut) - offset).to_bytes(4, "big") + cut[offset + 4 :]


@pytest.mark.parametrize("name", ["mp4", "mp4_tail_moov", "mov"])
def test_whole_files_are_known_complete(samples: SampleMedia, name: str) -> None:
    assert within(getattr(samples, name)) is True


@pytest.mark.parametrize("keep", [0.2, 0.9, 0.999])
def test_samples_past_a_rewritten_mdat_are_refused(samples: SampleMedia, keep: float) -> None:
    data = with_mdat_cut(samples.mp4, keep)
    with pytest.raises(CorruptMedia) as caught:
        within(data)
    assert caught.value.details["bytes_present"] == len(data)
    assert caught.value.details["bytes_declared"] > len(data)


async def test_probe_refuses_the_rewritten_mdat(tmp_path: Path, samples: SampleMedia) -> None:
    path = tmp_path / "cut.mp4"
    path.write_bytes(with_mdat_cut(samples.mp4, 0.5))
    with pytest.raises(CorruptMedia, match="truncated"):
        await probe_media(
            path, sniff(path.read_bytes()[:256]), max_image_pixels=10**7, thumbnail_px=64
        )


def test_fragmented_mp4_is_left_to_the_demuxer(tmp_path: Path) -> None:
    data = video_bytes(tmp_path / "f.mp4", movflags="frag_keyframe+empty_moov")
    assert any(kind == b"moof" for kind, _, _ in top_level_boxes(data))
    assert within(data) is False


async def test_fragmented_mp4_is_still_probed_packet_by_packet(tmp_path: Path) -> None:
    data = video_bytes(tmp_path / "f.mp4", frames=30, movflags="frag_keyframe+empty_moov")
    path = tmp_path / "input.mp4"
    path.write_bytes(data)
    found = await probe_media(path, sniff(data[:256]), max_image_pixels=10**7, thumbnail_px=64)
    assert found.frame_count == 30


def test_moov_without_tracks_is_not_known(samples: SampleMedia) -> None:
    data = samples.mp4
    _kind, offset, size = next(box for box in top_level_boxes(data) if box[0] == b"moov")
    only_free = size.to_bytes(4, "big") + b"moov" + (size - 8).to_bytes(4, "big") + b"free"
    data = data[:offset] + only_free + b"\x00" * (size - 16) + data[offset + size :]
    assert within(data) is False


@pytest.mark.parametrize("frames", [1, 48, 240])
async def test_declared_facts_match_a_full_demux(tmp_path: Path, frames: int) -> None:
    """The tables' answer (no demux) and the webm-style full scan agree on the same video."""
    path = tmp_path / "v.mp4"
    video_bytes(path, frames=frames, size=(64, 48))
    quick, _ = _scan_video(path, "mp4", 10**7, every_packet=False, thumbnail_px=64)
    full, _ = _scan_video(path, "mp4", 10**7, every_packet=True, thumbnail_px=64)
    assert quick == full
