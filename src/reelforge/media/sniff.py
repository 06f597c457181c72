"""Content type by magic bytes only: never by file name, extension or a server's header.

Accepted: PNG, JPEG, WebP, GIF images; MP4 and QuickTime (by ``ftyp`` brand) and WebM videos.
Anything else, including HEIC/AVIF (ISO-BMFF image brands), 3GP and plain Matroska, is
:class:`~reelforge.errors.UnsupportedMediaType`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reelforge.errors import UnsupportedMediaType

__all__ = ["SNIFF_BYTES", "MediaType", "sniff"]

SNIFF_BYTES = 256
"""How many leading bytes :func:`sniff` needs to decide (fewer only at end of file)."""

MediaKind = Literal["image", "video"]


@dataclass(frozen=True, slots=True)
class MediaType:
    """A sniffed type: MIME type, kind and the extension its stored key gets."""

    content_type: str
    kind: MediaKind
    extension: str


PNG = MediaType("image/png", "image", "png")
JPEG = MediaType("image/jpeg", "image", "jpg")
WEBP = MediaType("image/webp", "image", "webp")
GIF = MediaType("image/gif", "image", "gif")
MP4 = MediaType("video/mp4", "video", "mp4")
QUICKTIME = MediaType("video/quicktime", "video", "mov")
WEBM = MediaType("video/webm", "video", "webm")

_MP4_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
        b"mp41", b"mp42", b"mp71", b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"mmp4",
        b"MSNV", b"NDAS", b"f4v ",
    }
)  # fmt: skip
_IMAGE_BRANDS = frozenset(
    {b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
)
_QUICKTIME_BRAND = b"qt  "
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = b"\x42\x82"


def sniff(head: bytes) -> MediaType:
    """The media type of a file whose first bytes are ``head`` (give :data:`SNIFF_BYTES`)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if len(head) >= 12 and head[4:8] == b"ftyp":
        found = _iso_bmff(head)
        if found is not None:
            return found
    if head.startswith(_EBML_MAGIC) and _ebml_doctype(head) == b"webm":
        return WEBM
    # The refused bytes are never quoted back: they may come from an internal server.
    raise UnsupportedMediaType(
        "Unsupported media: expected PNG, JPEG, WebP, GIF, MP4, QuickTime or WebM content."
    )


def _iso_bmff(head: bytes) -> MediaType | None:
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    end = min(box_size, len(head)) if box_size >= 16 else 16
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    if major in _IMAGE_BRANDS:
        return None
    if major == _QUICKTIME_BRAND:
        return QUICKTIME
    if brands & _MP4_BRANDS:
        return MP4
    if _QUICKTIME_BRAND in compatible:
        return QUICKTIME
    return None


def _ebml_doctype(head: bytes) -> bytes | None:
    """The DocType string of an EBML header (``webm``, ``matroska``), if within ``head``."""
    at = head.find(_EBML_DOCTYPE_ID, 4)
    if at < 0 or at + 3 > len(head):
        return None
    size_byte = head[at + 2]
    if not size_byte & 0x80:  # only the one-byte size form is used for a short DocType
        return None
    length = size_byte & 0x7F
    value = head[at + 3 : at + 3 + length]
    return value if len(value) == length else None
