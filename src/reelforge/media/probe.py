"""Probing of sniffed media and their thumbnails: Pillow for images, PyAV for videos.

Images (:mod:`image_probe`): the header is read with the plugin of the sniffed format only, its
size checked against ``max_image_pixels`` before any pixel is decoded (Pillow's global
``MAX_IMAGE_PIXELS`` is left alone), and the decode's memory estimated; the first frame is then
fully decoded, so a truncated file is refused, and the thumbnail made from it strip by strip.
Videos are opened with the demuxer of the sniffed format only, and only the ``file``
protocol is allowed (no playlist or reference can make FFmpeg open something else). The
container's declared sizes are checked against the file (:mod:`containers`). For MP4 and
QuickTime the sample tables then show whether every sample lies inside the file
(:mod:`sample_tables`); where they cannot tell, and for WebM, every packet is demuxed and compared
with the declared frame count and duration. The first frame is decoded for the poster. All of this
is CPU-bound and runs in a worker thread.

With a :class:`~reelforge.media.probe_gate.ProbeGate`, the decoding waits for a slot and for its
memory: an image by its estimate, a video, and an image's header read, by an equal share. An
image whose estimate exceeds the gate's whole budget is refused (MediaTooLarge), so that the
budget bounds what probing takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import av.error
from PIL import Image

from reelforge.errors import CorruptMedia, MediaTooLarge, UnsupportedMediaType
from reelforge.log import get_logger
from reelforge.media.containers import check_complete
from reelforge.media.heap import give_back_freed_memory
from reelforge.media.image_probe import (
    OpenedImage,
    check_pixels,
    jpeg_thumbnail,
    open_image,
    thumbnail_jpeg_of,
)
from reelforge.media.probe_gate import ProbeGate
from reelforge.media.sample_tables import iso_samples_within
from reelforge.media.sniff import MediaType

__all__ = ["MediaProbe", "probe_media"]

_T = TypeVar("_T")
_log = get_logger(__name__)
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError, StopIteration)
_DEMUXERS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "matroska"}
_INDEXED = frozenset({"video/mp4", "video/quicktime"})
_MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class MediaProbe:
    """What probing found: dimensions, video timing, and the JPEG thumbnail or poster frame."""

    width: int
    height: int
    duration_s: float | None
    codec: str | None
    fps: float | None
    frame_count: int | None
    thumbnail_jpeg: bytes


async def probe_media(
    path: Path,
    media_type: MediaType,
    *,
    max_image_pixels: int,
    thumbnail_px: int,
    gate: ProbeGate | None = None,
) -> MediaProbe:
    """Probe the file at ``path`` (already sniffed as ``media_type``) and make its thumbnail;
    with ``gate``, only when it admits the work (see the module docstring).

    Raises CorruptMedia (truncated or undecodable), MediaTooLarge (more pixels than allowed) or
    UnsupportedMediaType (a video container without a video stream).
    """
    gate = gate or ProbeGate(slots=1 << 30, memory_bytes=1 << 62)
    if media_type.kind == "image":
        return await _probe_image(path, media_type, max_image_pixels, thumbnail_px, gate)
    async with gate.admit(gate.share):
        return await _in_thread(_probe_video, path, media_type, max_image_pixels, thumbnail_px)


async def _probe_image(
    path: Path, media_type: MediaType, max_pixels: int, thumbnail_px: int, gate: ProbeGate
) -> MediaProbe:
    # A PNG header may hold up to 64 MB of text chunks; Pillow reads a WebP file whole.
    webp = media_type.content_type == "image/webp"
    header_bytes = (await asyncio.to_thread(path.stat)).st_size if webp else 0
    async with gate.admit(max(gate.share, header_bytes)):
        opened = await _in_thread(open_image, path, media_type, max_pixels, thumbnail_px)
    try:
        if opened.decode_bytes > gate.memory_bytes:
            raise _over_budget(opened, gate)
        async with gate.admit(opened.decode_bytes):
            thumbnail = await _in_thread(thumbnail_jpeg_of, opened, thumbnail_px)
    finally:
        opened.close()
    return MediaProbe(
        width=opened.width,
        height=opened.height,
        duration_s=None,
        codec=None,
        fps=None,
        frame_count=None,
        thumbnail_jpeg=thumbnail,
    )


def _over_budget(opened: OpenedImage, gate: ProbeGate) -> MediaTooLarge:
    need, have = -(-opened.decode_bytes // _MiB), gate.memory_bytes // _MiB
    return MediaTooLarge(
        f"Decoding this {opened.width}x{opened.height} {opened.media_type.extension} image would "
        f"take about {need} MB, more than the {have} MB that probing may use "
        "(ingest.probe_memory_mb).",
        details={
            "width": opened.width,
            "height": opened.height,
            "decode_mb": need,
            "probe_memory_mb": have,
        },
    )


async def _in_thread(function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` in a worker thread. Cancelled, it still waits for the thread, which
    cannot be stopped: its memory stays counted in the gate, and its files open, until it ends."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise


def _probe_video(
    path: Path, media_type: MediaType, max_pixels: int, thumbnail_px: int
) -> MediaProbe:
    demuxer = _DEMUXERS[media_type.content_type]
    size = path.stat().st_size
    with path.open("rb") as file:
        check_complete(file, size, media_type.content_type)
        indexed = media_type.content_type in _INDEXED and iso_samples_within(file, size)
    try:
        facts, first_frame = _scan_video(
            path, demuxer, max_pixels, every_packet=not indexed, thumbnail_px=thumbnail_px
        )
        poster = jpeg_thumbnail(first_frame, thumbnail_px)
    except _AV_ERRORS as exc:
        _log.info("media.video_undecodable", reason=str(exc)[:200])
        raise CorruptMedia(f"The {media_type.extension} video is truncated or corrupt.") from exc
    finally:
        give_back_freed_memory()
    return MediaProbe(
        width=facts.width,
        height=facts.height,
        duration_s=facts.duration_s,
        codec=facts.codec,
        fps=facts.fps,
        frame_count=facts.frame_count,
        thumbnail_jpeg=poster,
    )


@dataclass(frozen=True, slots=True)
class _VideoFacts:
    width: int
    height: int
    duration_s: float
    codec: str
    fps: float | None
    frame_count: int


def _open(path: Path, demuxer: str, *, probe_decodes: bool) -> av.container.InputContainer:
    # Opening reads ahead (up to 5 MB) and decodes a first frame to guess what the container
    # did not say. Where the sample tables already said it, both are skipped: the poster
    # decode would repeat the work.
    options, container_options = None, {"protocol_whitelist": "file"}
    if not probe_decodes:
        options, container_options["probesize"] = {"skip_frame": "all"}, "32"
    return av.open(str(path), format=demuxer, options=options, container_options=container_options)


def _scan_video(
    path: Path, demuxer: str, max_pixels: int, *, every_packet: bool, thumbnail_px: int
) -> tuple[_VideoFacts, Image.Image]:
    """Decode the first frame; with ``every_packet``, also demux the rest in the same pass,
    counting frames and end times. Without it (the sample tables were checked against the file),
    the declared frame count stands.
    """
    with _open(path, demuxer, probe_decodes=every_packet) as container:
        if not container.streams:
            raise CorruptMedia("The video container holds no readable stream.")
        if not container.streams.video:
            raise UnsupportedMediaType("The file has no video stream.")
        video = container.streams.video[0]
        video.codec_context.skip_frame = "DEFAULT"
        video_index, codec = video.index, video.codec_context.name  # not readable once closed
        width, height = video.codec_context.width, video.codec_context.height
        check_pixels(width, height, max_pixels)
        rate = video.average_rate or video.guessed_rate
        declared_frames = video.frames or None
        every_packet = every_packet or declared_frames is None
        stream_duration = (
            float(video.duration * video.time_base)
            if video.duration is not None and video.time_base is not None
            else None
        )
        container_duration = container.duration / av.time_base if container.duration else None
        time_bases = {s.index: s.time_base for s in container.streams}

        packets = 0
        ends: dict[int, int] = {}
        first_frame: Image.Image | None = None
        for packet in container.demux():
            if packet.size == 0 and packet.dts is None:
                continue  # the demuxer's flush marker
            if packet.is_corrupt:
                raise CorruptMedia("The video contains a corrupt packet.")
            index = packet.stream.index
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None:
                end = stamp + (packet.duration or 0)
                ends[index] = max(ends.get(index, end), end)
            if index == video_index:
                packets += 1
                if first_frame is None:
                    first_frame = _first_image(video.decode(packet), thumbnail_px)
                if first_frame is not None and not every_packet:
                    break
        if first_frame is None:
            first_frame = _first_image(video.decode(None), thumbnail_px)

    if packets == 0 or first_frame is None:
        raise CorruptMedia("No frame of the video could be decoded.")
    if not every_packet and declared_frames is not None:
        return _declared_facts(
            width, height, codec, rate, declared_frames, stream_duration or container_duration
        ), first_frame
    if declared_frames is not None and packets < declared_frames:
        raise CorruptMedia(
            f"The video is truncated: {packets} of {declared_frames} declared frames are present.",
            details={"frames_present": packets, "frames_declared": declared_frames},
        )
    seconds = {i: float(end * (time_bases[i] or 0)) for i, end in ends.items()}
    video_end = seconds.get(video_index, 0.0)
    tolerance = max(0.25, 2 / float(rate)) if rate else 0.25
    _check_duration(video_end, stream_duration, tolerance)
    all_end = max(seconds.values(), default=0.0)
    _check_duration(all_end, container_duration, tolerance + 0.01 * (container_duration or 0))
    facts = _VideoFacts(
        width=width,
        height=height,
        duration_s=round(stream_duration or container_duration or video_end, 6),
        codec=codec,
        fps=round(float(rate), 6) if rate else None,
        frame_count=packets,
    )
    return facts, first_frame


def _declared_facts(
    width: int,
    height: int,
    codec: str,
    rate: Fraction | None,
    frames: int,
    duration: float | None,
) -> _VideoFacts:
    return _VideoFacts(
        width=width,
        height=height,
        duration_s=round(duration or (frames / float(rate) if rate else 0.0), 6),
        codec=codec,
        fps=round(float(rate), 6) if rate else None,
        frame_count=frames,
    )


def _first_image(frames: list[av.VideoFrame], max_px: int) -> Image.Image | None:
    """The first frame, scaled by FFmpeg (area average) to fit ``max_px`` for the poster."""
    for frame in frames:
        scale = min(1.0, max_px / max(frame.width, frame.height, 1))
        width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
        return frame.to_image(  # type: ignore[no-untyped-call, no-any-return]
            width=width, height=height, interpolation="AREA"
        )
    return None


def _check_duration(present: float, declared: float | None, tolerance: float) -> None:
    if declared is not None and present + tolerance < declared:
        raise CorruptMedia(
            f"The video is truncated: {present:.2f} s of {declared:.2f} s declared are present.",
            details={"seconds_present": round(present, 3), "seconds_declared": round(declared, 3)},
        )
