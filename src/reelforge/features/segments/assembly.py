"""A run's segments joined into one preview MP4, with PyAV.

When every clip's video stream has the same codec, size, pixel format, time base and codec
extradata (the H.264 parameter sets), packets are copied as they are and only their timestamps
are shifted: nothing is decoded, nothing is lost. Otherwise every frame is decoded, scaled to
the first clip's size and encoded again (H.264, the first clip's frame rate), each at its own
time plus the length of the clips before it. The preview is silent: segments are video only
(the spec asks providers for no audio post-processing).

CPU-bound and blocking: call it in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import av.error
from av.video.stream import VideoStream

from reelforge.errors import CorruptMedia, InvalidInput

__all__ = ["JoinedClip", "join_clips"]

JoinMethod = Literal["stream_copy", "reencode"]
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError)
_DEFAULT_FPS = 24


@dataclass(frozen=True, slots=True)
class JoinedClip:
    """What :func:`join_clips` wrote."""

    path: Path
    method: JoinMethod
    clips: int
    duration_s: float


@dataclass(frozen=True, slots=True)
class _Clip:
    path: Path
    signature: tuple[object, ...]
    width: int
    height: int
    rate: Fraction | None
    duration_s: float


def join_clips(inputs: Sequence[Path], out: Path, *, crf: int = 23) -> JoinedClip:
    """Join ``inputs`` in order into ``out`` (MP4): stream copy when they match, else encode."""
    if not inputs:
        raise InvalidInput("There is nothing to join.")
    try:
        clips = [_inspect(path) for path in inputs]
        if len({clip.signature for clip in clips}) == 1:
            _copy(clips, out)
            method: JoinMethod = "stream_copy"
        else:
            _encode(clips, out, crf)
            method = "reencode"
    except _AV_ERRORS as exc:
        raise CorruptMedia(
            "A segment could not be read or the preview written.",
            details={"reason": str(exc)[:200]},
        ) from exc
    return JoinedClip(
        path=out, method=method, clips=len(clips), duration_s=sum(c.duration_s for c in clips)
    )


def _open(path: Path) -> av.container.InputContainer:
    return av.open(str(path), format="mp4", container_options={"protocol_whitelist": "file"})


def _inspect(path: Path) -> _Clip:
    with _open(path) as container:
        if not container.streams.video:
            raise InvalidInput("A segment has no video stream.", details={"file": path.name})
        stream = container.streams.video[0]
        context = stream.codec_context
        duration = _duration_s(stream, container)
        return _Clip(
            path=path,
            signature=(
                context.name,
                context.width,
                context.height,
                context.format.name if context.format is not None else None,
                stream.time_base,
                bytes(context.extradata or b""),
            ),
            width=context.width,
            height=context.height,
            rate=stream.average_rate or stream.guessed_rate,
            duration_s=duration,
        )


def _duration_s(stream: VideoStream, container: av.container.InputContainer) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration else 0.0


def _copy(clips: Sequence[_Clip], out: Path) -> None:
    """Remux every packet, shifted so each clip starts where the one before it ended."""
    with av.open(str(out), "w", format="mp4") as output:
        with _open(clips[0].path) as first:
            target = output.add_stream_from_template(first.streams.video[0])
        end = 0  # in the clips' common time base
        last_dts: int | None = None
        for clip in clips:
            with _open(clip.path) as source:
                stream = source.streams.video[0]
                packets = [p for p in source.demux(stream) if p.dts is not None]
                stamps = [_stamp(p) for p in packets]
                if not stamps:
                    continue
                shift = end - min(stamps)
                first_dts = packets[0].dts if packets[0].dts is not None else stamps[0]
                if last_dts is not None and first_dts + shift <= last_dts:
                    shift = last_dts + 1 - first_dts
                for packet in packets:
                    assert packet.dts is not None
                    packet.dts += shift
                    if packet.pts is not None:
                        packet.pts += shift
                    last_dts = packet.dts
                    end = max(end, _stamp(packet) + (packet.duration or 0))
                    packet.stream = target
                    output.mux(packet)


def _stamp(packet: av.Packet[Any]) -> int:
    stamp = packet.pts if packet.pts is not None else packet.dts
    return 0 if stamp is None else stamp


def _encode(clips: Sequence[_Clip], out: Path, crf: int) -> None:
    """Decode every clip and encode its frames at the first clip's size and rate."""
    first = clips[0]
    rate = first.rate or Fraction(_DEFAULT_FPS)
    width, height = first.width - first.width % 2, first.height - first.height % 2
    with av.open(str(out), "w", format="mp4") as output:
        target = output.add_stream("libx264", rate=rate)
        target.width, target.height, target.pix_fmt = width, height, "yuv420p"
        target.options = {"crf": str(crf), "preset": "veryfast"}
        time_base = 1 / rate
        offset_s = 0.0
        next_pts = 0
        for clip in clips:
            with _open(clip.path) as source:
                for frame in source.decode(video=0):
                    at = offset_s + float(frame.time or 0.0)
                    pts = math.floor(at / time_base + 1e-6)
                    if pts < next_pts:
                        continue  # a faster clip than the preview's rate: drop the extra frame
                    image = frame.reformat(width=width, height=height, format="yuv420p")
                    image.pts, image.time_base = pts, time_base
                    output.mux(target.encode(image))
                    next_pts = pts + 1
            offset_s += clip.duration_s
            next_pts = max(next_pts, round(offset_s / time_base))
        output.mux(target.encode(None))
