"""Pictures, media, forms and servers for the transform tests.

Photos: scikit-image's astronaut (one face) and matplotlib's Grace Hopper; a drawn picture with
no face; the two side by side (several faces); the astronaut small in a large canvas (a face
too small). Oversized files are a valid PNG or MP4 header followed by zeros, generated chunk by
chunk and never written to disk.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import matplotlib.cbook
import numpy as np
from PIL import Image, ImageDraw
from skimage import data as skimage_data

from fixtures.engine import FAST_ENGINE
from fixtures.server import serve_app
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.emulator.leonardo import DUMMY_KEY as LEONARDO_KEY
from reelforge.emulator.replicate.api import DUMMY_KEY as REPLICATE_KEY
from reelforge.emulator.runway import DUMMY_KEY as RUNWAY_KEY
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings

MiB = 1024 * 1024
IMAGE_LIMIT = 16 * MiB
VIDEO_LIMIT = 100 * MiB
HOSTED_ENV = {
    "REPLICATE_API_TOKEN": REPLICATE_KEY,
    "RUNWAYML_API_SECRET": RUNWAY_KEY,
    "LEONARDO_API_KEY": LEONARDO_KEY,
}
DESCRIPTION = "a medieval knight in a castle courtyard at dawn, wearing polished armour"

PNG_HEADER = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x01\x00" * 2 + b"\x08\x02"
MP4_HEADER = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


# -- pictures ------------------------------------------------------------------------------


def astronaut() -> Image.Image:
    pixels: np.ndarray = skimage_data.astronaut()  # type: ignore[no-untyped-call]
    return Image.fromarray(pixels)


def grace_hopper() -> Image.Image:
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as image:
        return image.convert("RGB")


def no_face() -> Image.Image:
    picture = Image.new("RGB", (640, 480), (30, 120, 200))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((100, 100, 300, 300), fill=(250, 200, 0))
    draw.rectangle((350, 200, 600, 400), fill=(20, 160, 60))
    return picture


def two_people() -> Image.Image:
    picture = Image.new("RGB", (1100, 620), (90, 90, 90))
    picture.paste(astronaut(), (0, 50))
    picture.paste(grace_hopper(), (540, 0))
    return picture


def tiny_face() -> Image.Image:
    picture = Image.new("RGB", (1200, 1200), (200, 210, 220))
    picture.paste(astronaut(), (400, 400))
    return picture


def encoded(picture: Image.Image, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=image_format)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        return opened.convert("RGB")


def small_mp4(frames: int = 12) -> bytes:
    """A short H.264 clip of the astronaut (320x320, 12 fps)."""
    picture = np.asarray(astronaut().resize((320, 320)))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 320, 320, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 12)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(picture, index * 4, axis=1), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def padded(header: bytes, size: int, chunk: int = MiB) -> Iterator[bytes]:
    """``size`` bytes: ``header`` then zeros, in chunks (never all in memory at once)."""
    yield header
    zeros = bytes(chunk)
    left = size - len(header)
    while left > 0:
        step = min(chunk, left)
        yield zeros[:step]
        left -= step


# -- forms ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    content_type: str
    head: bytes
    tail: bytes

    def body(self, file_chunks: Iterable[bytes]) -> Iterator[bytes]:
        yield self.head
        yield from file_chunks
        yield self.tail

    def length(self, file_size: int) -> int:
        return len(self.head) + file_size + len(self.tail)


def multipart(
    fields: Mapping[str, str],
    *,
    filename: str | None = "photo.png",
    file_type: str = "image/png",
    file_first: bool = False,
) -> Form:
    """A multipart form around one ``media`` file (``filename`` None: no file part)."""
    boundary = f"rf-{uuid.uuid4().hex}"
    text = b"".join(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
        for name, value in fields.items()
    )
    file_head = b""
    if filename is not None:
        file_head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="media"; '
            f'filename="{filename}"\r\nContent-Type: {file_type}\r\n\r\n'
        ).encode()
    end = f"--{boundary}--\r\n".encode()
    if filename is None:
        return Form(f"multipart/form-data; boundary={boundary}", text, end)
    if file_first:
        return Form(f"multipart/form-data; boundary={boundary}", file_head, b"\r\n" + text + end)
    return Form(f"multipart/form-data; boundary={boundary}", text + file_head, b"\r\n" + end)


def form_bytes(fields: Mapping[str, str], data: bytes | None, **options: Any) -> tuple[str, bytes]:
    form = multipart(fields, filename=None if data is None else "photo.png", **options)
    return form.content_type, b"".join(form.body([data] if data is not None else []))


# -- servers -------------------------------------------------------------------------------


def transform_settings(
    data_dir: Path,
    emulator_url: str | None = None,
    *,
    transform: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "auth": {"enabled": False},
        "ingest": {"allowed_hosts": ["127.0.0.1"]},
        "engine": dict(FAST_ENGINE),
        "transform": {"poll_interval_s": 0.1, "video_poll_interval_s": 0.1, **(transform or {})},
    }
    if emulator_url is not None:
        values["providers"] = {
            "replicate": {"base_url": f"{emulator_url}/replicate"},
            "runway": {"base_url": f"{emulator_url}/runway"},
            "leonardo": {"base_url": f"{emulator_url}/leonardo/api/rest/v1"},
        }
    values.update(overrides)
    return Settings(**values)


@dataclass
class TransformApp:
    services: Services
    base_url: str


@asynccontextmanager
async def transform_app(
    settings: Settings, environ: Mapping[str, str], *, engine: bool = True
) -> AsyncIterator[TransformApp]:
    """The API on loopback over fresh services; with an in-process engine of its own."""
    await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ=environ)
    try:
        async with serve_app(create_app(services)) as base_url:
            if engine:
                await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
            yield TransformApp(services, base_url)
    finally:
        await services.aclose()


def provider_calls(ledger: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every call the emulator received, control routes aside."""
    return list(ledger["calls"])
