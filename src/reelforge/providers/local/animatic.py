"""Animatic clips: one or more still key frames, a camera move, an H.264 MP4.

The pipeline follows the offline media measurements (§1, §2): each key frame is converted to
YUV 4:2:0 once; every output frame is resampled from those planes with ``cv2.warpAffine``
(bilinear, float crop box, so motion is sub-pixel smooth) straight into the encoder's I420
layout, and PyAV's libx264 encodes it. Warping the three planes costs half of warping RGB and
removes the per-frame colour conversion.

Key frames follow one another in order, each held in turn and crossfading into the next
while the camera keeps moving, so a clip over three key frames shows all three. A key frame
whose subject is known (``focus``: the face box the previz records) is cropped to the output's
aspect around that subject, not around its centre, and a push or pull closes in on it, so a
9:16 clip of a 16:9 frame keeps the face in view.
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
    "MAX_KEY_FRAMES",
    "MIN_DURATION_S",
    "X264_PRESETS",
    "AnimaticInfo",
    "render_animatic",
    "render_animatic_bytes",
]

MIN_DURATION_S = 0.5
MAX_DURATION_S = 60.0
MAX_KEY_FRAMES = 8
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
# The crossfade between two key frames spans this part of the time between them.
_FADE_START, _FADE_END = 0.3, 0.7
# Room kept around a subject's face when the crop is placed (fractions of the face's size).
_FACE_MARGIN = 0.25
# Key frames are resampled once to at most this multiple of the output size: bilinear warping
# does not anti-alias, which is invisible up to a 1.5x downscale (measurements §2).
_MAX_SOURCE_SCALE = 1.5

_U8 = npt.NDArray[np.uint8]
Focus = tuple[float, float, float, float]


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
    focus: Sequence[Focus | None] = (),
) -> AnimaticInfo:
    """Write an animatic MP4 (H.264, yuv420p, faststart) of ``round(duration_s * fps)`` frames.

    ``camera`` is a :class:`CameraMove` or free-text camera notes (see
    :func:`parse_camera_move`). ``motion_strength`` scales the move (0 holds the frame still).
    Key frames of another aspect ratio are cropped to fill the output: around their ``focus``
    (the subject's box, x0 y0 x1 y1 in fractions of the key frame, one per key frame or None)
    where given, else around the centre. Raises :class:`InvalidInput` for bad arguments and
    :class:`LocalStudioError` if encoding fails.
    """
    _check_arguments(frames, out, duration_s, motion_strength, width, height, fps, crf, preset)
    move = camera if isinstance(camera, CameraMove) else parse_camera_move(camera)
    frame_count = max(1, round(duration_s * fps))
    focused = [*focus, *([None] * len(frames))][: len(frames)]
    cropped = [
        _crop_to_aspect(image, width, height, box)
        for image, box in zip(frames, focused, strict=True)
    ]
    sources = [_to_planes(image, width, height) for image, _ in cropped]
    boxes = crop_boxes(move, frame_count, motion_strength)
    if cropped[0][1] is not None:
        boxes = _toward(boxes, cropped[0][1])
    keys, fade = _timeline(frame_count, len(sources))
    partial = out.with_name(f".{out.name}.part")
    try:
        _encode(sources, boxes, keys, fade, partial, width, height, fps, crf, preset)
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
    focus: Sequence[Focus | None] = (),
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
            focus=focus,
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
    if not 1 <= len(frames) <= MAX_KEY_FRAMES:
        problems.append(f"an animatic takes 1-{MAX_KEY_FRAMES} key frames, not {len(frames)}")
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


def _crop_to_aspect(
    image: Image.Image, width: int, height: int, focus: Focus | None
) -> tuple[npt.NDArray[np.uint8], Focus | None]:
    """``image`` cropped to the output's aspect around ``focus`` (or its centre), and the
    focus in fractions of the crop."""
    rgb = np.asarray(image.convert("RGB"))
    rows, cols = rgb.shape[:2]
    target = width / height
    fx0, fy0, fx1, fy1 = focus if focus is not None else (0.5, 0.5, 0.5, 0.5)
    if cols / rows > target:
        keep = max(1, round(rows * target))
        x0 = _window(cols, keep, (fx0 + fx1) / 2 * cols)
        rgb, y0, kept = rgb[:, x0 : x0 + keep], 0, (keep, rows)
    else:
        keep = max(1, round(cols / target))
        y0 = _window(rows, keep, (fy0 + fy1) / 2 * rows)
        rgb, x0, kept = rgb[y0 : y0 + keep], 0, (cols, keep)
    if focus is None:
        return rgb, None
    return rgb, (
        (fx0 * cols - x0) / kept[0],
        (fy0 * rows - y0) / kept[1],
        (fx1 * cols - x0) / kept[0],
        (fy1 * rows - y0) / kept[1],
    )


def _window(length: int, keep: int, centre: float) -> int:
    """The start of a ``keep``-long window of ``length`` centred on ``centre``, inside it."""
    return int(min(max(round(centre - keep / 2), 0), length - keep))


def _toward(boxes: npt.NDArray[np.float64], focus: Focus) -> npt.NDArray[np.float64]:
    """The move's crop boxes slid, where one would cut the subject's face, just enough to
    keep the face (with a margin) inside, without leaving the key frame."""
    margin_x = (focus[2] - focus[0]) * _FACE_MARGIN
    margin_y = (focus[3] - focus[1]) * _FACE_MARGIN
    want = (focus[0] - margin_x, focus[1] - margin_y, focus[2] + margin_x, focus[3] + margin_y)
    moved = boxes.copy()
    for axis, (low, high) in enumerate(((want[0], want[2]), (want[1], want[3]))):
        start, size = moved[:, axis], moved[:, axis + 2]
        start = np.where(start > low, low, start)
        start = np.where(start + size < high, high - size, start)
        moved[:, axis] = np.clip(start, 0.0, 1.0 - size)
    return moved


def _to_planes(rgb: npt.NDArray[np.uint8], width: int, height: int) -> _Planes:
    """``rgb`` (already of the output's aspect) scaled to 1-1.5x the output, split to I420."""
    scale = min(max(rgb.shape[1] / width, 1.0), _MAX_SOURCE_SCALE)
    canvas = (2 * round(width * scale / 2), 2 * round(height * scale / 2))
    if (rgb.shape[1], rgb.shape[0]) != canvas:
        shrinking = rgb.shape[1] > canvas[0]
        rgb = np.asarray(
            cv2.resize(rgb, canvas, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC),
            np.uint8,
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


def _timeline(
    frame_count: int, key_frames: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """For each output frame, the key frame it shows (or fades out of) and the weight of the
    next one: key frame ``k`` is settled at ``k / (key_frames - 1)`` of the clip, and the fade
    into the next spans the middle of the time between."""
    if key_frames == 1:
        return np.zeros(frame_count, np.int64), np.zeros(frame_count)
    span = np.arange(frame_count, dtype=np.float64) / max(frame_count - 1, 1) * (key_frames - 1)
    keys = np.minimum(np.floor(span), key_frames - 2).astype(np.int64)
    return keys, ease((span - keys - _FADE_START) / (_FADE_END - _FADE_START))


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
    keys: npt.NDArray[np.int64],
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
        for index, (box, key, weight) in enumerate(zip(boxes, keys, fade, strict=True)):
            state = (*box.tolist(), float(key), float(weight))
            if state != previous:  # a held frame (static move, settled fade) is warped once
                pair = sources[key : key + 2]
                _synthesise(pair, box, float(weight), frame_planes, second_planes)
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
