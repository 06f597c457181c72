"""Probing of sniffed media and their thumbnails: Pillow for images, PyAV for videos.

Images are opened with the plugin of the sniffed format only. Their size is read from the header
and checked against ``max_image_pixels`` before any pixel is decoded; Pillow's global
``MAX_IMAGE_PIXELS`` is left alone. The first frame is then fully decoded, so a truncated file
is refused. Videos are opened with the demuxer of the sniffed format only, and only the ``file``
protocol is allowed (no playlist or reference can make FFmpeg open something else). The
container's declared sizes are checked against the file (:mod:`containers`). For MP4 and
QuickTime the sample tables then show whether every sample lies inside the file
(:mod:`sample_tables`); where they cannot tell, and for WebM, every packet is demuxed and compared
with the declared frame count and duration. The first frame is decoded for the poster. All of this
is CPU-bound and runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

import av
import av.error
from PIL import GifImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from reelforge.errors import CorruptMedia, MediaTooLarge, UnsupportedMediaType
from reelforge.media.containers import check_complete
from reelforge.media.sample_tables import iso_samples_within
from reelforge.media.sniff import MediaType

__all__ = ["MediaProbe", "probe_media"]

_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError, StopIteration)
_IMAGE_OPENERS: dict[str, Callable[[IO[bytes]], ImageFile.ImageFile]] = {
    "image/png": PngImagePlugin.PngImageFile,
    "image/jpeg": JpegImagePlugin.JpegImageFile,
    "image/gif": GifImagePlugin.GifImageFile,
    "image/webp": WebPImagePlugin.WebPImageFile,
}
_DEMUXERS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "matroska"}
_INDEXED = frozenset({"video/mp4", "video/quicktime"})
_THUMBNAIL_QUALITY = 85


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
    path: Path, media_type: MediaType, *, max_image_pixels: int, thumbnail_px: int
) -> MediaProbe:
    """Probe the file at ``path`` (already sniffed as ``media_type``) and make its thumbnail.

    Raises CorruptMedia (truncated or undecodable), MediaTooLarge (more pixels than allowed) or
    UnsupportedMediaType (a video container without a video stream).
    """
    if media_type.kind == "image":
        return await asyncio.to_thread(
            _probe_image, path, media_type, max_image_pixels, thumbnail_px
        )
    return await asyncio.to_thread(_probe_video, path, media_type, max_image_pixels, thumbnail_px)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"The media declares an empty picture ({width}x{height}).")
    if width * height > max_pixels:
        raise MediaTooLarge(
            f"The picture is {width}x{height} ({width * height} pixels); "
            f"at most {max_pixels} pixels are accepted.",
            details={"width": width, "height": height, "max_pixels": max_pixels},
        )


def _probe_image(
    path: Path, media_type: MediaType, max_pixels: int, thumbnail_px: int
) -> MediaProbe:
    opener = _IMAGE_OPENERS[media_type.content_type]
    with path.open("rb") as fp:
        try:
            image = opener(fp)
        except _PIL_ERRORS as exc:
            raise CorruptMedia(f"The {media_type.extension} header cannot be read.") from exc
        with image:
            width, height = image.size
            _check_pixels(width, height, max_pixels)
            if isinstance(image, JpegImagePlugin.JpegImageFile):
                # Decode at a reduced DCT scale: the whole stream is still read and checked.
                image.draft("RGB", (thumbnail_px, thumbnail_px))
            try:
                image.load()
                thumbnail = _thumbnail_jpeg(image, thumbnail_px)
            except Image.DecompressionBombError as exc:
                raise MediaTooLarge("The image is too large to decode safely.") from exc
            except _PIL_ERRORS as exc:
                raise CorruptMedia(
                    f"The {media_type.extension} image is truncated or corrupt.",
                    details={"reason": str(exc)[:200]},
                ) from exc
    return MediaProbe(
        width=width,
        height=height,
        duration_s=None,
        codec=None,
        fps=None,
        frame_count=None,
        thumbnail_jpeg=thumbnail,
    )


def _thumbnail_jpeg(image: Image.Image, max_px: int) -> bytes:
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = image.convert("RGB")
    flat.thumbnail((max_px, max_px))
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=_THUMBNAIL_QUALITY)
    return out.getvalue()


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
        poster = _thumbnail_jpeg(first_frame, thumbnail_px)
    except _AV_ERRORS as exc:
        raise CorruptMedia(
            f"The {media_type.extension} video is truncated or corrupt.",
            details={"reason": str(exc)[:200]},
        ) from exc
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
        _check_pixels(width, height, max_pixels)
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
