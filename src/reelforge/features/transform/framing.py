"""Pictures around a transform: output sizes, reframing to an aspect ratio, a video's key frame.

A requested aspect ratio other than ``original`` reframes the input photo before it is sent:
the largest crop of that ratio, centred on the face as far as the picture allows. Hosted models
then see the framing they are asked for, and the local studio (whose filters keep the input's
size) returns it. A video is transformed from its first frame (image-to-video), the only video
input the providers' APIs take. Everything here is CPU-bound: callers use a worker thread.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import av.error
from PIL import Image

from reelforge.errors import CorruptMedia
from reelforge.imaging.faces import FaceBox

__all__ = ["crop_to_aspect", "first_frame", "fit_size", "png_bytes", "ratio_of"]

_DEMUXERS = {"video/mp4": "mp4", "video/quicktime": "mov"}
_MIN_SIDE = 64


def ratio_of(aspect_ratio: str, width: int, height: int) -> float:
    """Width / height of ``aspect_ratio`` (``"16:9"``), or of the picture for ``original``."""
    if aspect_ratio == "original":
        return width / height
    w, h = (int(part) for part in aspect_ratio.split(":"))
    return w / h


def fit_size(ratio: float, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest even size of ``ratio`` within ``max_width`` x ``max_height``."""
    width = min(max_width, round(max_height * ratio))
    height = min(max_height, round(width / ratio))
    width = max(_MIN_SIDE, width - width % 2)
    height = max(_MIN_SIDE, height - height % 2)
    return width, height


def crop_to_aspect(image: Image.Image, aspect_ratio: str, face: FaceBox | None) -> Image.Image:
    """The largest crop of ``aspect_ratio`` centred on ``face`` (or the middle)."""
    if aspect_ratio == "original":
        return image
    ratio = ratio_of(aspect_ratio, image.width, image.height)
    width = min(image.width, round(image.height * ratio))
    height = min(image.height, round(width / ratio))
    if (width, height) == image.size:
        return image
    centre_x, centre_y = image.width / 2, image.height / 2
    if face is not None:
        centre_x, centre_y = (face.left + face.right) / 2, (face.top + face.bottom) / 2
    left = round(min(max(centre_x - width / 2, 0), image.width - width))
    top = round(min(max(centre_y - height / 2, 0), image.height - height))
    return image.crop((left, top, left + width, top + height))


def first_frame(path: Path, content_type: str) -> Image.Image:
    """The first decodable frame of the MP4/MOV file at ``path``, as RGB."""
    try:
        with av.open(
            str(path),
            format=_DEMUXERS[content_type],
            container_options={"protocol_whitelist": "file"},
        ) as container:
            for frame in container.decode(video=0):
                image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
                return image.convert("RGB")
    except (av.error.FFmpegError, OSError, ValueError, KeyError) as exc:
        raise CorruptMedia("The video's first frame cannot be decoded.") from exc
    raise CorruptMedia("The video has no frame.")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
