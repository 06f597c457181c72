"""Animatic clips: one or two still key frames, a camera move, an H.264 MP4.

The pipeline follows the offline media measurements (§1, §2): each key frame is converted to
YUV 4:2:0 once; every output frame is resampled from those planes with ``cv2.warpAffine``
(bilinear, float crop box, so motion is sub-pixel smooth) straight into the encoder's I420
layout, and PyAV's libx264 encodes it. Warping the three planes costs half of warping RGB and
removes the per-frame colour conversion.

Two key frames crossfade over the middle of the clip while the camera keeps moving.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from reelforge.errors import InvalidInput
from reelforge.providers.local.camera import CameraMove, crop_boxes, ease, parse_camera_move
from reelforge.providers.local.errors import LocalStudioError

__all__ = [
    "MAX_DURATION_S",
    "MIN_DURATION_S",
    "X264_PRESETS",
    "AnimaticInfo",
    "render_animatic",
    "render_animatic_bytes",
]

MIN_DURATION_S = 0.5
MAX_DURATION_S = 60.0
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
_MIN_SIDE, _MAX_SIDE = 16, 4096
# The crossfade between two key frames spans this part of the clip (fractions of its length).
_FADE_START, _FADE_END = 0.3, 0.7
# Key frames are resampled once to at most this multiple of the output size: bilinear warping
# does not anti-alias, which is invisible up to a 1.5x downscale (measurements §2).
_MAX_SOURCE_SCALE = 1.5

_U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class AnimaticInfo:
    """What :func:`render_animatic` wrote."""

    path: Path
    frame_count: int
    fps: int
    width: int
    height: int
    duration_s: float
    camera: CameraMove
    motion_strength: float
    key_frames: int


@dataclass(frozen=True, slots=True)
class _Planes:
    """A key frame as full-resolution Y and half-resolution U and V planes."""

    y: _U8
    u: _U8
    v: _U8

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.y.shape
        return width, height


def render_animatic(
    frames: Sequence[Image.Image],
    *,
    out: Path,
    duration_s: float,
    camera: CameraMove | str,
    motion_strength: float = 0.5,
    width: int = 1280,
    height: int = 720,
    fps: int = 24,
    crf: int = 23,
    preset: str = "veryfast",
) -> AnimaticInfo:
    """Write an animatic MP4 (H.264, yuv420p, faststart) of ``round(duration_s * fps)`` frames.

    ``camera`` is a :class:`CameraMove` or free-text camera notes (see
    :func:`parse_camera_move`). ``motion_strength`` scales the move (0 holds the frame still).
    Key frames of another aspect ratio are centre-cropped to fill the output. Raises
    :class:`InvalidInput` for bad arguments and :class:`LocalStudioError` if encoding fails.
    """
    _check_arguments(frames, out, duration_s, motion_strength, width, height, fps, crf, preset)
    move = camera if isinstance(camera, CameraMove) else parse_camera_move(camera)
    frame_count = max(1, round(duration_s * fps))
    sources = [_to_planes(image, width, height) for image in frames]
    boxes = crop_boxes(move, frame_count, motion_strength)
    fade = _fade_weights(frame_count) if len(sources) == 2 else np.zeros(frame_count)
    partial = out.with_name(f".{out.name}.part")
    try:
        _encode(sources, boxes, fade, partial, width, height, fps, crf, preset)
        os.replace(partial, out)
    except (av.FFmpegError, OSError) as exc:
        raise LocalStudioError(
            f"The animatic could not be encoded: {exc}",
            provider="local",
            details={"out": str(out)},
        ) from exc
    finally:
        partial.unlink(missing_ok=True)
    return AnimaticInfo(
        path=out,
        frame_count=frame_count,
        fps=fps,
        width=width,
        height=height,
        duration_s=frame_count / fps,
        camera=move,
        motion_strength=motion_strength,
        key_frames=len(sources),
    )


def render_animatic_bytes(
    frames: Sequence[Image.Image],
    *,
    duration_s: float,
    camera: CameraMove | str,
    motion_strength: float = 0.5,
    width: int = 1280,
    height: int = 720,
    fps: int = 24,
    crf: int = 23,
    preset: str = "veryfast",
) -> bytes:
    """:func:`render_animatic` into memory: the MP4's bytes (faststart needs a seekable file,
    so it goes through a private temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="reelforge-animatic-") as folder:
        out = Path(folder) / "animatic.mp4"
        render_animatic(
            frames,
            out=out,
            duration_s=duration_s,
            camera=camera,
            motion_strength=motion_strength,
            width=width,
            height=height,
            fps=fps,
            crf=crf,
            preset=preset,
        )
        return out.read_bytes()


def _check_arguments(
    frames: Sequence[Image.Image],
    out: Path,
    duration_s: float,
    motion_strength: float,
    width: int,
    height: int,
    fps: int,
    crf: int,
    preset: str,
) -> None:
    problems: list[str] = []
    if not 1 <= len(frames) <= 2:
        problems.append(f"an animatic takes 1 or 2 key frames, not {len(frames)}")
    elif not all(isinstance(f, Image.Image) and f.width > 0 and f.height > 0 for f in frames):
        problems.append("key frames must be non-empty PIL images")
    if not (math.isfinite(duration_s) and MIN_DURATION_S <= duration_s <= MAX_DURATION_S):
        problems.append(f"duration_s must be {MIN_DURATION_S}-{MAX_DURATION_S} s, not {duration_s}")
    if not (math.isfinite(motion_strength) and 0.0 <= motion_strength <= 1.0):
        problems.append(f"motion_strength must be 0-1, not {motion_strength}")
    for name, side in (("width", width), ("height", height)):
        if not _is_int(side) or not _MIN_SIDE <= side <= _MAX_SIDE or side % 2:
            problems.append(f"{name} must be an even number of pixels {_MIN_SIDE}-{_MAX_SIDE}")
    if not _is_int(fps) or not 1 <= fps <= 60:
        problems.append(f"fps must be a whole number 1-60, not {fps}")
    if not _is_int(crf) or not 0 <= crf <= 51:
        problems.append(f"crf must be a whole number 0-51, not {crf}")
    if preset not in X264_PRESETS:
        problems.append(f"preset must be one of {', '.join(X264_PRESETS)}, not {preset!r}")
    if not out.parent.is_dir():
        problems.append(f"the folder {str(out.parent)!r} does not exist")
    if problems:
        raise InvalidInput(
            "Invalid animatic request: " + "; ".join(problems) + ".", details={"problems": problems}
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _to_planes(image: Image.Image, width: int, height: int) -> _Planes:
    """Centre-crop ``image`` to the output aspect, scale it to 1-1.5x the output, split to I420."""
    rgb = np.asarray(image.convert("RGB"))
    rows, cols = rgb.shape[:2]
    target = width / height
    if cols / rows > target:
        keep = max(1, round(rows * target))
        rgb = rgb[:, (cols - keep) // 2 : (cols - keep) // 2 + keep]
    else:
        keep = max(1, round(cols / target))
        rgb = rgb[(rows - keep) // 2 : (rows - keep) // 2 + keep]
    scale = min(max(rgb.shape[1] / width, 1.0), _MAX_SOURCE_SCALE)
    canvas = (2 * round(width * scale / 2), 2 * round(height * scale / 2))
    if (rgb.shape[1], rgb.shape[0]) != canvas:
        shrinking = rgb.shape[1] > canvas[0]
        rgb = cv2.resize(
            rgb, canvas, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
        )
    yuv = np.asarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420), np.uint8)
    y, u, v = _split_i420(yuv, *canvas)
    return _Planes(y=y, u=u, v=v)


def _split_i420(buffer: _U8, width: int, height: int) -> tuple[_U8, _U8, _U8]:
    """Views of the Y, U and V planes inside one contiguous I420 buffer."""
    flat = buffer.reshape(-1)
    luma = width * height
    chroma = luma // 4
    y = flat[:luma].reshape(height, width)
    u = flat[luma : luma + chroma].reshape(height // 2, width // 2)
    v = flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2)
    return y, u, v


def _fade_weights(frame_count: int) -> npt.NDArray[np.float64]:
    t = np.arange(frame_count, dtype=np.float64) / max(frame_count - 1, 1)
    return ease((t - _FADE_START) / (_FADE_END - _FADE_START))


def _warp(source: _Planes, box: npt.NDArray[np.float64], dst: tuple[_U8, _U8, _U8]) -> None:
    """Resample the crop ``box`` (fractions of the key frame) of ``source`` into ``dst``."""
    src_w, src_h = source.size
    out_h, out_w = dst[0].shape
    x0, y0 = box[0] * src_w, box[1] * src_h
    sx, sy = box[2] * src_w / out_w, box[3] * src_h / out_h
    # Inverse maps (output pixel centre -> source pixel centre). Chroma samples sit at the
    # centre of each 2x2 luma block, hence the different offset on the half-size planes.
    luma = np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]])
    chroma = np.array([[sx, 0.0, x0 / 2 + 0.5 * sx - 0.5], [0.0, sy, y0 / 2 + 0.5 * sy - 0.5]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for plane, target, matrix in zip(
        (source.y, source.u, source.v), dst, (luma, chroma, chroma), strict=True
    ):
        size = (target.shape[1], target.shape[0])
        cv2.warpAffine(
            plane, matrix, size, dst=target, flags=flags, borderMode=cv2.BORDER_REPLICATE
        )


def _encode(
    sources: list[_Planes],
    boxes: npt.NDArray[np.float64],
    fade: npt.NDArray[np.float64],
    path: Path,
    width: int,
    height: int,
    fps: int,
    crf: int,
    preset: str,
) -> None:
    frame_buffer = np.empty((height * 3 // 2, width), dtype=np.uint8)
    second_buffer = np.empty_like(frame_buffer)
    frame_planes = _split_i420(frame_buffer, width, height)
    second_planes = _split_i420(second_buffer, width, height)
    time_base = Fraction(1, fps)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": preset, "crf": str(crf)}
        # PyAV defaults to slice threads; the ffmpeg CLI lets x264 use frame threads, which
        # encode faster for the same output quality.
        stream.codec_context.thread_type = "AUTO"
        previous: tuple[float, ...] | None = None
        for index, (box, weight) in enumerate(zip(boxes, fade, strict=True)):
            state = (*box.tolist(), float(weight))
            if state != previous:  # a held frame (static move, settled fade) is warped once
                _synthesise(sources, box, float(weight), frame_planes, second_planes)
                previous = state
            frame = av.VideoFrame.from_ndarray(frame_buffer, format="yuv420p")
            frame.pts, frame.time_base = index, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _synthesise(
    sources: list[_Planes],
    box: npt.NDArray[np.float64],
    weight: float,
    out: tuple[_U8, _U8, _U8],
    scratch: tuple[_U8, _U8, _U8],
) -> None:
    """Draw one output frame into ``out``: the first key frame, the second, or a mix of both."""
    if weight <= 0.0 or len(sources) == 1:
        _warp(sources[0], box, out)
        return
    if weight >= 1.0:
        _warp(sources[1], box, out)
        return
    _warp(sources[0], box, out)
    _warp(sources[1], box, scratch)
    for mixed, incoming in zip(out, scratch, strict=True):
        cv2.addWeighted(mixed, 1.0 - weight, incoming, weight, 0.0, dst=mixed)
