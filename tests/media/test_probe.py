from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from media.media_support import SampleMedia, bomb_png, video_bytes
from reelforge.errors import CorruptMedia, MediaTooLarge
from reelforge.media.probe import MediaProbe, probe_media
from reelforge.media.sniff import sniff

THUMB = 64


async def probe(tmp_path: Path, data: bytes, *, max_pixels: int = 10_000_000) -> MediaProbe:
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    return await probe_media(
        path, sniff(data[:256]), max_image_pixels=max_pixels, thumbnail_px=THUMB
    )


def decoded(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    image.load()
    return image


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("png", (640, 480)),
        ("rgba_png", (40, 30)),
        ("jpeg", (800, 600)),
        ("gif", (64, 48)),
        ("webp", (64, 48)),
    ],
)
async def test_images(
    tmp_path: Path, samples: SampleMedia, name: str, size: tuple[int, int]
) -> None:
    found = await probe(tmp_path, getattr(samples, name))
    assert (found.width, found.height) == size
    assert (found.duration_s, found.codec) == (None, None)
    thumbnail = decoded(found.thumbnail_jpeg)
    assert max(thumbnail.size) <= THUMB
    assert thumbnail.size[0] / thumbnail.size[1] == pytest.approx(size[0] / size[1], rel=0.1)


@pytest.mark.parametrize(
    ("name", "codec", "frames"),
    [("mp4", "h264", 48), ("mp4_tail_moov", "h264", 48), ("mov", "h264", 48), ("webm", "vp9", 24)],
)
async def test_videos(
    tmp_path: Path, samples: SampleMedia, name: str, codec: str, frames: int
) -> None:
    found = await probe(tmp_path, getattr(samples, name))
    assert (found.width, found.height, found.codec) == (160, 120, codec)
    assert found.fps == pytest.approx(24)
    assert found.frame_count == frames
    assert found.duration_s == pytest.approx(frames / 24, abs=0.05)
    poster = decoded(found.thumbnail_jpeg)
    assert poster.size == (64, 48)


async def test_decompression_bomb_is_refused_from_the_header(tmp_path: Path) -> None:
    bomb = bomb_png(100_000, 100_000)
    assert len(bomb) < 200
    with pytest.raises(MediaTooLarge) as caught:
        await probe(tmp_path, bomb)
    assert caught.value.details["width"] == 100_000
    # Our own limit applies, well below Pillow's global one, which is left alone.
    assert (Image.MAX_IMAGE_PIXELS or 0) > 10_000_000
    with pytest.raises(MediaTooLarge):
        await probe(tmp_path, bomb_png(4000, 3000), max_pixels=10_000_000)


async def test_video_frames_count_against_the_pixel_cap(
    tmp_path: Path, samples: SampleMedia
) -> None:
    with pytest.raises(MediaTooLarge):
        await probe(tmp_path, samples.mp4, max_pixels=160 * 120 - 1)


@pytest.mark.parametrize("fraction", [0.5, 0.8, 0.97])
async def test_truncated_png(tmp_path: Path, samples: SampleMedia, fraction: float) -> None:
    with pytest.raises(CorruptMedia):
        await probe(tmp_path, samples.png[: int(len(samples.png) * fraction)])


async def test_truncated_jpeg(tmp_path: Path, samples: SampleMedia) -> None:
    with pytest.raises(CorruptMedia):
        await probe(tmp_path, samples.jpeg[: len(samples.jpeg) // 2])


@pytest.mark.parametrize("name", ["mp4", "mp4_tail_moov", "mov", "webm"])
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
async def test_truncated_videos(
    tmp_path: Path, samples: SampleMedia, name: str, fraction: float
) -> None:
    data: bytes = getattr(samples, name)
    with pytest.raises(CorruptMedia):
        await probe(tmp_path, data[: int(len(data) * fraction)])


async def test_garbage_after_a_valid_header(tmp_path: Path, samples: SampleMedia) -> None:
    with pytest.raises(CorruptMedia):
        await probe(tmp_path, samples.png[:64] + b"\x00" * 5000)
    with pytest.raises(CorruptMedia):
        await probe(tmp_path, samples.mp4[:40] + b"\x00" * 5000)


async def test_a_longer_video(tmp_path: Path) -> None:
    data = video_bytes(tmp_path / "long.mp4", frames=240, size=(64, 48))
    found = await probe(tmp_path, data)
    assert found.frame_count == 240
    assert found.duration_s == pytest.approx(10, abs=0.05)


async def test_live_webm_of_unknown_size_is_accepted(tmp_path: Path, samples: SampleMedia) -> None:
    data = bytearray(samples.webm)
    at = data.find(b"\x18\x53\x80\x67") + 4  # the Segment's size: mark it "unknown"
    assert data[at] == 0x01  # ffmpeg writes an 8-byte size
    data[at : at + 8] = b"\x01\xff\xff\xff\xff\xff\xff\xff"
    found = await probe(tmp_path, bytes(data))
    assert found.frame_count == 24


async def test_mp4_box_running_past_the_end(tmp_path: Path, samples: SampleMedia) -> None:
    data = samples.mp4 + b"\x00\x00\x10\x00free"  # a 4 KiB box with 0 bytes present
    with pytest.raises(CorruptMedia) as caught:
        await probe(tmp_path, data)
    assert "'free' box" in caught.value.message
