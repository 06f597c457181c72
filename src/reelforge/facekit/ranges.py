"""Serving a stored object over HTTP with single byte ranges, as video players ask for them.

``GET`` and ``HEAD`` answer ``200`` with ``Accept-Ranges: bytes``; a single ``Range`` (``a-b``,
``a-``, ``-n``) answers ``206`` with ``Content-Range`` and only those bytes are read from the
store; a range past the end answers ``416`` in the usual error shape. A malformed header, another
unit, several ranges, or an ``If-Range`` that does not match the ETag get the whole object, as
RFC 9110 allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from reelforge.media.store import MediaStore

__all__ = ["ServedObject", "byte_range", "serve_object"]

Unsatisfiable = Literal["unsatisfiable"]


@dataclass(frozen=True, slots=True)
class ServedObject:
    """What the response needs to know about the object, besides its bytes."""

    key: str
    size: int
    content_type: str
    etag: str | None
    cache_control: str


def serve_object(request: Request, store: MediaStore, obj: ServedObject) -> Response:
    """The response for ``obj``: whole, one range of it, or 416; headers only for ``HEAD``."""
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": obj.cache_control,
        "X-Content-Type-Options": "nosniff",
    }
    if obj.etag is not None:
        headers["ETag"] = obj.etag
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    honoured = wanted is not None and (if_range is None or if_range == obj.etag)
    span = byte_range(wanted, obj.size) if wanted is not None and honoured else None
    if span == "unsatisfiable":
        return _unsatisfiable(obj.size)
    if span is None:
        start, length, status = 0, obj.size, 200
    else:
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
        length, status = end - start + 1, 206
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=obj.content_type)
    return StreamingResponse(
        store.get_stream(obj.key, start=start, length=length),
        status_code=status,
        headers=headers,
        media_type=obj.content_type,
    )


def byte_range(header: str, size: int) -> tuple[int, int] | Unsatisfiable | None:
    """The one range of a ``Range`` header as (first, last) byte, ``"unsatisfiable"``, or
    None to serve the whole object (a malformed header, another unit, several ranges)."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or (first == "" and last.isdigit())) or not (
        last == "" or last.isdigit()
    ):
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, end


def _unsatisfiable(size: int) -> JSONResponse:
    error = {
        "code": "RANGE_NOT_SATISFIABLE",
        "message": f"The range is outside the file ({size} bytes).",
        "details": {"size": size},
        "statusCode": 416,
    }
    return JSONResponse(
        status_code=416,
        content={"success": False, "error": error},
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )
