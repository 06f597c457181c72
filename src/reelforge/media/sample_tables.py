"""Do all of an MP4/QuickTime file's samples lie inside it? Read from the sample tables alone.

Every track's ``stbl`` says where each sample is: chunk offsets (``stco``/``co64``), samples per
chunk (``stsc``) and sample sizes (``stsz``). The furthest byte any sample needs is computed from
those tables without reading a sample, so a 100 MB video is checked in microseconds where
demuxing every packet reads it all. A sample past the end of the file is refused as truncation.

Only the plain layout is judged: a fragmented file (``moof``), a compressed movie header, compact
sample sizes (``stz2``), an oversized ``moov`` or tables that disagree with one another return
"not known", and the caller demuxes every packet instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from reelforge.errors import CorruptMedia
from reelforge.media.containers import iso_top_level_boxes

__all__ = ["iso_samples_within"]

_MAX_MOOV_BYTES = 64 * 1024 * 1024
_TRACK_PATH = (b"mdia", b"minf", b"stbl")


class _Unknown(Exception):
    """The tables are of a kind this module does not judge; demux instead."""


def iso_samples_within(file: BinaryIO, size: int) -> bool:
    """True if every sample of every track ends within ``size`` bytes; False if not known.

    Raises CorruptMedia when a sample, or a top-level box, lies past the end of the file.
    """
    try:
        moov = _read_moov(file, size)
        furthest = max((_track_end(trak) for trak in _children(moov, b"trak")), default=None)
    except _Unknown:
        return False
    if furthest is None:
        return False
    if furthest > size:
        raise CorruptMedia(
            f"The video is truncated: its samples need {furthest} bytes, the file has {size}.",
            details={"bytes_declared": furthest, "bytes_present": size},
        )
    return True


def _read_moov(file: BinaryIO, size: int) -> memoryview:
    moov = None
    for box in iso_top_level_boxes(file, size):
        if box.kind == b"moof":
            raise _Unknown  # samples live in fragments
        if box.kind == b"moov":
            if moov is not None or box.size > _MAX_MOOV_BYTES:
                raise _Unknown
            file.seek(box.offset + box.header_size)
            moov = memoryview(file.read(box.size - box.header_size))
    if moov is None:
        raise _Unknown
    return moov


def _box_size(header: bytes | memoryview, room: int) -> tuple[int, int]:
    """(box size, header size) of the box starting with ``header``; ``room`` bytes remain."""
    if len(header) < 8:
        raise _Unknown
    box_size, header_size = int.from_bytes(header[0:4], "big"), 8
    if box_size == 1:
        if len(header) < 16:
            raise _Unknown
        box_size, header_size = int.from_bytes(header[8:16], "big"), 16
    elif box_size == 0:
        box_size = room
    if box_size < header_size or box_size > room:
        raise _Unknown
    return box_size, header_size


def _boxes(data: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    position = 0
    while position + 8 <= len(data):
        box_size, header_size = _box_size(data[position : position + 16], len(data) - position)
        kind = bytes(data[position + 4 : position + 8])
        yield kind, data[position + header_size : position + box_size]
        position += box_size


def _children(data: memoryview, kind: bytes) -> Iterator[memoryview]:
    return (payload for found, payload in _boxes(data) if found == kind)


def _child(data: memoryview, *path: bytes) -> memoryview:
    for kind in path:
        found = next(_children(data, kind), None)
        if found is None:
            raise _Unknown
        data = found
    return data


def _table(payload: memoryview, offset: int, count: int, dtype: str) -> npt.NDArray[np.int64]:
    item = np.dtype(dtype).itemsize
    if offset + count * item > len(payload):
        raise _Unknown
    return np.frombuffer(payload, dtype=dtype, count=count, offset=offset).astype(np.int64)


def _track_end(trak: memoryview) -> int:
    """The furthest byte (exclusive) any sample of this track needs; 0 for an empty track."""
    stbl = _child(trak, *_TRACK_PATH)
    tables = dict(_boxes(stbl))
    if b"stz2" in tables or b"stsz" not in tables or b"stsc" not in tables:
        raise _Unknown
    if b"stco" in tables:
        offsets_box, offset_type = tables[b"stco"], ">u4"
    elif b"co64" in tables:
        offsets_box, offset_type = tables[b"co64"], ">u8"
    else:
        raise _Unknown
    offsets = _table(offsets_box, 8, _count(offsets_box, 4), offset_type)
    stsc = tables[b"stsc"]
    runs = _table(stsc, 8, 3 * _count(stsc, 4), ">u4").reshape(-1, 3)
    stsz = tables[b"stsz"]
    uniform_size, sample_count = _count(stsz, 4), _count(stsz, 8)
    per_chunk = _samples_per_chunk(runs[:, 0], runs[:, 1], len(offsets))
    if int(per_chunk.sum()) != sample_count:
        raise _Unknown
    if sample_count == 0:
        return 0
    if uniform_size:
        spans = per_chunk * uniform_size
    else:
        sizes = _table(stsz, 12, sample_count, ">u4")
        cumulative = np.concatenate(([0], np.cumsum(sizes)))
        first = np.concatenate(([0], np.cumsum(per_chunk)[:-1]))
        spans = cumulative[first + per_chunk] - cumulative[first]
    return int((offsets + spans)[per_chunk > 0].max())


def _count(payload: memoryview, offset: int) -> int:
    if offset + 4 > len(payload):
        raise _Unknown
    return int.from_bytes(payload[offset : offset + 4], "big")


def _samples_per_chunk(
    first_chunks: npt.NDArray[np.int64], samples: npt.NDArray[np.int64], chunk_count: int
) -> npt.NDArray[np.int64]:
    if chunk_count == 0:
        return np.zeros(0, dtype=np.int64)
    if len(first_chunks) == 0 or first_chunks[0] != 1 or np.any(np.diff(first_chunks) <= 0):
        raise _Unknown
    if first_chunks[-1] > chunk_count:
        raise _Unknown
    runs = np.diff(np.append(first_chunks, chunk_count + 1))
    return np.repeat(samples, runs)
