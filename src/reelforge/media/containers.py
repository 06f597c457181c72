"""Is a video container whole? A cheap structural check before any demuxing.

A file cut short keeps a header that promises more bytes than there are: an MP4/QuickTime
top-level box (``mdat`` most of all) whose size runs past the end of the file, or a WebM
``Segment`` whose declared size does. Checking the declared sizes catches every truncation of
these containers exactly, with no tolerance to tune; demuxing (in :mod:`probe`) then checks
what is inside.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from reelforge.errors import CorruptMedia

__all__ = ["IsoBox", "check_complete", "iso_top_level_boxes"]

_MAX_TOP_LEVEL_BOXES = 100_000
_SEGMENT_ID = b"\x18\x53\x80\x67"
_EBML_ID = b"\x1a\x45\xdf\xa3"


def check_complete(file: BinaryIO, size: int, content_type: str) -> None:
    """Raise CorruptMedia if the container in ``file`` (``size`` bytes) is cut short."""
    if content_type in {"video/mp4", "video/quicktime"}:
        _check_iso_boxes(file, size)
    elif content_type == "video/webm":
        _check_ebml_segment(file, size)


def _truncated(what: str, declared_end: int, size: int) -> CorruptMedia:
    return CorruptMedia(
        f"The video is truncated: its {what} needs {declared_end} bytes, the file has {size}.",
        details={"bytes_declared": declared_end, "bytes_present": size},
    )


class IsoBox(NamedTuple):
    """A top-level box of an MP4/QuickTime file: its type, where it starts, its header's and
    its whole size in bytes."""

    kind: bytes
    offset: int
    header_size: int
    size: int


def iso_top_level_boxes(file: BinaryIO, size: int) -> Iterator[IsoBox]:
    """The top-level boxes of ``file`` (``size`` bytes) in order, read from their headers only.
    Raises CorruptMedia where a box is malformed or runs past the end of the file."""
    position = 0
    for _ in range(_MAX_TOP_LEVEL_BOXES):
        if position >= size:
            return
        file.seek(position)
        header = file.read(16)
        if len(header) < 8:
            raise _truncated("last box header", position + 8, size)
        box_size, header_size = int.from_bytes(header[0:4], "big"), 8
        kind = header[4:8]
        if box_size == 0:  # "extends to the end of the file"
            yield IsoBox(kind, position, header_size, size - position)
            return
        if box_size == 1:
            if len(header) < 16:
                raise _truncated("last box header", position + 16, size)
            box_size, header_size = int.from_bytes(header[8:16], "big"), 16
        name = kind.decode("latin-1")
        if box_size < header_size:
            raise CorruptMedia(f"The video has a malformed {name!r} box.")
        if position + box_size > size:
            raise _truncated(f"{name!r} box", position + box_size, size)
        yield IsoBox(kind, position, header_size, box_size)
        position += box_size
    raise CorruptMedia("The video has too many top-level boxes.")


def _check_iso_boxes(file: BinaryIO, size: int) -> None:
    for _box in iso_top_level_boxes(file, size):
        pass


def _read_vint(file: BinaryIO) -> tuple[int, int, bool] | None:
    """An EBML variable-length integer: (value, length in bytes, all value bits set)."""
    first = file.read(1)
    if not first or first[0] == 0:
        return None
    length = 8 - first[0].bit_length() + 1
    rest = file.read(length - 1)
    if len(rest) != length - 1:
        return None
    value = first[0] & (0xFF >> length)
    for byte in rest:
        value = (value << 8) | byte
    return value, length, value == (1 << (7 * length)) - 1


def _check_ebml_segment(file: BinaryIO, size: int) -> None:
    file.seek(0)
    if file.read(4) != _EBML_ID:
        raise CorruptMedia("The WebM header is malformed.")
    header = _read_vint(file)
    if header is None:
        raise _truncated("EBML header", size + 1, size)
    segment_at = 4 + header[1] + header[0]
    file.seek(segment_at)
    if file.read(4) != _SEGMENT_ID:
        if segment_at + 4 > size:
            raise _truncated("Segment", segment_at + 4, size)
        return  # an unusual layout: leave it to the demuxer
    segment = _read_vint(file)
    if segment is None:
        raise _truncated("Segment header", segment_at + 5, size)
    value, length, unknown = segment
    if unknown:  # a live stream of unknown size: nothing to compare
        return
    declared_end = segment_at + 4 + length + value
    if declared_end > size:
        raise _truncated("Segment", declared_end, size)
