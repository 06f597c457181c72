"""The demo's files under readable names: ``<data dir>/demo/lighthouse/``.

The media store keeps assets under content names (``media/assets/<hash>.png``); a person wants
``frames/SCENE_1_SHOT_1.png``, ``preview.mp4``, and one picture that shows the whole run: the
contact sheet of the key frames, and a poster (a still from the middle of the preview).
The folder is written beside and then swapped in, so it is never half of one run.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import av
from PIL import Image

from reelforge.cli.demo_segments import SegmentsOutcome
from reelforge.features.keyframes.schemas import KeyframesResponse
from reelforge.imaging.contact_sheet import contact_sheet
from reelforge.media.store import MediaStore
from reelforge.settings import Settings

__all__ = ["DemoFiles", "demo_folder", "write_demo_files"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_BYTES = 256 * 1024 * 1024
# Where in the middle segment the poster is taken (a fraction of its length).
_POSTER_AT = 0.85


@dataclass
class DemoFiles:
    folder: Path
    frames: list[Path] = field(default_factory=list)
    segments: list[Path] = field(default_factory=list)
    preview: Path | None = None
    contact_sheet: Path | None = None
    poster: Path | None = None


def demo_folder(settings: Settings) -> Path:
    return (settings.data_dir / "demo" / "lighthouse").resolve()


async def write_demo_files(
    store: MediaStore,
    settings: Settings,
    keyframes: KeyframesResponse,
    segments: SegmentsOutcome | None,
) -> DemoFiles:
    """Copy the run's key frames, segments and preview into the demo folder, with the contact
    sheet and the poster; a file the store does not hold (a URL elsewhere) is left out."""
    final = demo_folder(settings)
    staging = final.with_name(final.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "frames").mkdir(parents=True)
    (staging / "segments").mkdir()
    files = DemoFiles(folder=final)
    tiles: list[tuple[str, Image.Image]] = []
    for frame in keyframes.generated_frames:
        key = _key_of(frame.image_url, settings)
        if key is None:
            continue
        data = await store.get_bytes(key, max_bytes=_MAX_BYTES)
        name = f"frames/{_safe(frame.frame_id)}{PurePosixPath(key).suffix or '.png'}"
        (staging / name).write_bytes(data)
        files.frames.append(final / name)
        with Image.open(io.BytesIO(data)) as image:
            tiles.append((frame.frame_id, _panel(image)))
    if tiles:
        sheet = await asyncio.to_thread(contact_sheet, tiles)
        sheet.save(staging / "contact_sheet.png", format="PNG")
        files.contact_sheet = final / "contact_sheet.png"
    if segments is not None:
        for row in segments.rows:
            key = _key_of(row.url, settings)
            if key is not None:
                name = f"segments/{_safe(row.segment_id)}.mp4"
                (staging / name).write_bytes(await store.get_bytes(key, max_bytes=_MAX_BYTES))
                files.segments.append(final / name)
        preview_key = (
            None if segments.preview_url is None else _key_of(segments.preview_url, settings)
        )
        if preview_key is not None:
            preview = staging / "preview.mp4"
            preview.write_bytes(await store.get_bytes(preview_key, max_bytes=_MAX_BYTES))
            files.preview = final / "preview.mp4"
            poster = await asyncio.to_thread(_frame_at, preview, _poster_time(segments))
            poster.save(staging / "poster.png", format="PNG")
            files.poster = final / "poster.png"
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return files


def _panel(image: Image.Image) -> Image.Image:
    """A local studio still as a storyboard panel (its caption, frame id and names, from the
    layout record it carries, set beside the picture); any other image as it is."""
    from reelforge.providers.local.captions import storyboard_panel
    from reelforge.providers.local.dressing import LAYOUT_CHUNK, Layout
    from reelforge.providers.local.palette import palette_for

    picture = image.convert("RGB")
    text = image.info.get(LAYOUT_CHUNK)
    try:
        layout = Layout.from_record(json.loads(text)) if isinstance(text, str) else None
    except ValueError:
        layout = None
    return picture if layout is None else storyboard_panel(picture, layout, palette_for(""))


def _key_of(url: str, settings: Settings) -> str | None:
    base = settings.public_base_url + "/"
    return url[len(base) :] if url.startswith(base) else None


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._") or "file"


def _poster_time(segments: SegmentsOutcome) -> float:
    """Seconds into the preview late in its middle segment: a clip dissolves between its key
    frames around its middle, and has settled on its last key frame by then."""
    middle = len(segments.rows) // 2
    start = sum(row.duration_s for row in segments.rows[:middle])
    return start + _POSTER_AT * segments.rows[middle].duration_s


def _frame_at(path: Path, seconds: float) -> Image.Image:
    """The first frame at or after ``seconds`` (the last frame if the video is shorter)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        target = (
            (stream.start_time or 0) + int(seconds / stream.time_base) if stream.time_base else 0
        )
        container.seek(target, stream=stream)
        last: av.VideoFrame | None = None
        for frame in container.decode(stream):
            last = frame
            if frame.pts is None or frame.pts >= target:
                break
    if last is None:
        raise ValueError(f"{path.name} has no video frame")
    image: Image.Image = last.to_image()  # type: ignore[no-untyped-call]
    return image
