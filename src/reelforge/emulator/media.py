"""Real media for emulated outputs: previz PNG/JPEG stills and animatic MP4s from the local studio.

Outputs are rendered once per (kind, size, duration) and kept, so a benchmark of a hundred
generations renders a handful of files. Sizes are capped (stills at ``max_image_side``, clips at
``max_video_side``, aspect ratio kept) because the emulator stands in for a provider's output,
not for its quality; a file's real size is what the provider's JSON reports. Rendering runs in a
worker thread; concurrent requests for the same file share one render.
"""

from __future__ import annotations

import asyncio
import io
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from reelforge.providers.briefs import SceneBrief
from reelforge.providers.local.animatic import render_animatic_bytes
from reelforge.providers.local.previz import render_previz

__all__ = ["ImageFormat", "MediaFile", "MediaLibrary"]

ImageFormat = Literal["png", "jpeg"]
_CONTENT_TYPES: dict[ImageFormat, str] = {"png": "image/png", "jpeg": "image/jpeg"}
_MIN_SIDE = 64
_MIN_DURATION_S, _MAX_DURATION_S = 0.5, 20.0
_KEPT_FILES = 64
_BRIEF = SceneBrief(
    frame_id="EMULATOR",
    description="An emulated provider output: a storyboard draft of a quiet harbour at dawn.",
    camera_notes="wide shot, slow push in",
    lighting_mood="soft dawn light",
)


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A rendered output, served at ``/_emulator/files/{name}``."""

    name: str
    content_type: str
    data: bytes
    width: int
    height: int
    duration_s: float | None = None


class MediaLibrary:
    """Renders and keeps the emulator's outputs."""

    def __init__(
        self, *, max_image_side: int = 1536, max_video_side: int = 640, video_fps: int = 12
    ) -> None:
        self.max_image_side = max_image_side
        self.max_video_side = max_video_side
        self.video_fps = video_fps
        self._files: OrderedDict[str, MediaFile] = OrderedDict()
        self._renders: dict[str, asyncio.Task[MediaFile]] = {}

    def get(self, name: str) -> MediaFile | None:
        return self._files.get(name)

    async def image(self, width: int, height: int, image_format: ImageFormat = "png") -> MediaFile:
        w, h = _fit(width, height, self.max_image_side)
        name = f"image-{w}x{h}.{'jpg' if image_format == 'jpeg' else 'png'}"
        return await self._obtain(name, lambda: _render_image(name, w, h, image_format))

    async def video(self, width: int, height: int, duration_s: float) -> MediaFile:
        w, h = _fit(width, height, self.max_video_side)
        w, h = w - w % 2, h - h % 2
        seconds = min(max(round(duration_s * 2) / 2, _MIN_DURATION_S), _MAX_DURATION_S)
        name = f"video-{w}x{h}-{seconds:g}s.mp4"
        fps = self.video_fps
        return await self._obtain(name, lambda: _render_video(name, w, h, seconds, fps))

    async def _obtain(self, name: str, render: Callable[[], MediaFile]) -> MediaFile:
        kept = self._files.get(name)
        if kept is not None:
            self._files.move_to_end(name)
            return kept
        task = self._renders.get(name)
        if task is None:
            task = asyncio.create_task(asyncio.to_thread(render))
            self._renders[name] = task
            task.add_done_callback(lambda done: self._keep(name, done))
        # shield: one caller giving up must not cancel the render the others wait for.
        return await asyncio.shield(task)

    def _keep(self, name: str, task: asyncio.Task[MediaFile]) -> None:
        self._renders.pop(name, None)
        if task.cancelled() or task.exception() is not None:
            return
        self._files[name] = task.result()
        while len(self._files) > _KEPT_FILES:
            self._files.popitem(last=False)


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    width, height = max(width, 1), max(height, 1)
    scale = min(1.0, max_side / max(width, height))
    return max(_MIN_SIDE, round(width * scale)), max(_MIN_SIDE, round(height * scale))


def _still(width: int, height: int) -> Image.Image:
    return render_previz(_BRIEF, width=width, height=height, seed=7)


def _render_image(name: str, width: int, height: int, image_format: ImageFormat) -> MediaFile:
    buffer = io.BytesIO()
    _still(width, height).convert("RGB").save(buffer, format=image_format.upper())
    return MediaFile(name, _CONTENT_TYPES[image_format], buffer.getvalue(), width, height)


def _render_video(name: str, width: int, height: int, duration_s: float, fps: int) -> MediaFile:
    data = render_animatic_bytes(
        [_still(width, height)],
        duration_s=duration_s,
        camera="slow push in",
        width=width,
        height=height,
        fps=fps,
        preset="ultrafast",
    )
    return MediaFile(name, "video/mp4", data, width, height, duration_s)
