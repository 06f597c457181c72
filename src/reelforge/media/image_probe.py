"""Probing a sniffed image in bounded memory: the header first, then one decode, then strips.

:func:`open_image` reads only the header (with the plugin of the sniffed format, nothing else),
checks the declared size against ``max_image_pixels`` and estimates what decoding will cost:
the pixel buffer in Pillow's own layout (1, 2 or 4 bytes a pixel; WebP's decoder holds a second
copy), plus the text chunks kept from the header. JPEG is decoded at a reduced DCT scale
(Pillow's ``draft``), so an 8000x8000 JPEG costs 1000x1000. :func:`thumbnail_jpeg_of` then
decodes the whole first frame (so a truncated file is refused) and makes the thumbnail from it
in horizontal strips: each strip is converted, flattened onto white and box-reduced
(``Image.reduce``) on its own, so that no full-size RGB copy of the image is ever made. Other
formats than JPEG cannot be decoded at a reduced scale by Pillow, which is why the caller admits
the decode through a :class:`~reelforge.media.probe_gate.ProbeGate` with that estimate.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import GifImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from reelforge.errors import CorruptMedia, MediaTooLarge
from reelforge.log import get_logger
from reelforge.media.heap import give_back_freed_memory
from reelforge.media.sniff import MediaType

__all__ = ["OpenedImage", "check_pixels", "jpeg_thumbnail", "open_image", "thumbnail_jpeg_of"]

_log = get_logger(__name__)
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)
_OPENERS: dict[str, Callable[[IO[bytes]], ImageFile.ImageFile]] = {
    "image/png": PngImagePlugin.PngImageFile,
    "image/jpeg": JpegImagePlugin.JpegImageFile,
    "image/gif": GifImagePlugin.GifImageFile,
    "image/webp": WebPImagePlugin.WebPImageFile,
}
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_MiB = 1024 * 1024
_STRIP_BYTES = 4 * _MiB  # one strip's converted pixels, before reduction
_WORKING_BYTES = 16 * _MiB  # strips, their conversions and the reduced image
_THUMBNAIL_QUALITY = 85


@dataclass(slots=True)
class OpenedImage:
    """An image whose header was read; ``decode_bytes`` estimates what decoding it will take."""

    image: ImageFile.ImageFile
    file: IO[bytes]
    media_type: MediaType
    width: int
    height: int
    decode_bytes: int

    def close(self) -> None:
        self.image.close()
        self.file.close()


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"The media declares an empty picture ({width}x{height}).")
    if width * height > max_pixels:
        raise MediaTooLarge(
            f"The picture is {width}x{height} ({width * height} pixels); "
            f"at most {max_pixels} pixels are accepted.",
            details={"width": width, "height": height, "max_pixels": max_pixels},
        )


def open_image(
    path: Path, media_type: MediaType, max_pixels: int, thumbnail_px: int
) -> OpenedImage:
    """Read the header of the image at ``path``; no pixel is decoded. Close what it returns."""
    file = path.open("rb")
    try:
        try:
            image = _OPENERS[media_type.content_type](file)
        except _PIL_ERRORS as exc:
            raise CorruptMedia(f"The {media_type.extension} header cannot be read.") from exc
        opened = OpenedImage(image, file, media_type, *image.size, decode_bytes=0)
    except BaseException:
        file.close()
        raise
    try:
        check_pixels(opened.width, opened.height, max_pixels)
        if isinstance(image, JpegImagePlugin.JpegImageFile):
            # Decode at a reduced DCT scale: the whole stream is still read and checked.
            image.draft("RGB", (thumbnail_px, thumbnail_px))
        declared = opened.width * opened.height
        opened.decode_bytes = _decode_bytes(image, declared, path.stat().st_size)
    except BaseException:
        opened.close()
        raise
    return opened


def _decode_bytes(image: ImageFile.ImageFile, declared_pixels: int, file_size: int) -> int:
    """What decoding ``image`` will take, from its header (as measured with Pillow 13)."""
    width, height = image.size  # after a JPEG draft: the reduced size
    pixels = width * height * _PIXEL_BYTES.get(image.mode, 4)
    if isinstance(image, WebPImagePlugin.WebPImageFile):
        # libwebp's animation decoder keeps two RGBA canvases, Pillow copies the frame out of
        # them and into the image, and holds the whole file: about 16 bytes a pixel.
        pixels = declared_pixels * 16 + file_size
    elif isinstance(image, JpegImagePlugin.JpegImageFile) and image.info.get("progressive"):
        # A progressive JPEG is buffered as DCT coefficients for the whole picture, whatever
        # the draft scale: 2 bytes for each pixel of each component, at its own sampling.
        sampling = [h * v for _, h, v, _ in image.layer] or [1, 1, 1, 1]
        pixels += int(2 * declared_pixels * sum(sampling) / max(sampling))
    text = sum(len(v) for v in image.info.values() if isinstance(v, str | bytes))
    return pixels + text + _WORKING_BYTES


def thumbnail_jpeg_of(opened: OpenedImage, max_px: int) -> bytes:
    """Decode the first frame whole (refusing a truncated file) and make its JPEG thumbnail;
    ``opened`` is closed, and the decoded pixels' memory given back, on the way out."""
    image = opened.image
    try:
        image.load()
        small = _reduced(image, max_px)
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge("The image is too large to decode safely.") from exc
    except _PIL_ERRORS as exc:
        _log.info("media.image_undecodable", reason=str(exc)[:200])
        raise CorruptMedia(
            f"The {opened.media_type.extension} image is truncated or corrupt."
        ) from exc
    finally:
        opened.close()
        give_back_freed_memory()
    return jpeg_thumbnail(small, max_px)


def _reduced(image: Image.Image, max_px: int) -> Image.Image:
    """The image flattened to RGB and box-reduced to about twice ``max_px``, strip by strip."""
    width, height = image.size
    factor = max(1, max(width, height) // (2 * max_px))
    if factor == 1:
        return _flattened(image)
    rows = max(factor, _STRIP_BYTES // (width * 4) // factor * factor)
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)), (255, 255, 255))
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(height, top + rows)))
        out.paste(_flattened(strip).reduce(factor), (0, top // factor))
    return out


def _flattened(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white."""
    if image.mode.startswith("I;16"):
        # 16-bit grey: scaled to 8 bits, where a plain conversion would clip all above 255.
        image = image.convert("I").point(lambda value: value / 257).convert("L")
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def jpeg_thumbnail(image: Image.Image, max_px: int) -> bytes:
    """``image`` (already small) as a JPEG that fits ``max_px`` on its longer side."""
    flat = _flattened(image)
    flat.thumbnail((max_px, max_px))
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=_THUMBNAIL_QUALITY)
    return out.getvalue()
