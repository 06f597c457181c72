"""``/media/{key}``: public URLs of the local store, served by the API itself.

Media URLs are public by design (they are what an ``image_url`` points at), so this route sits
outside bearer auth. Keys are validated before the store is touched. Single byte ranges are
served (:mod:`reelforge.facekit.ranges`), so a browser's video player can seek. The ETag is the
object's sha256 (:mod:`reelforge.media.content_tags`), never the store's own (a local folder's
names the file's inode and modification time); ``If-None-Match`` with it answers ``304``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from reelforge.api.deps import ServicesDep
from reelforge.errors import NotFound
from reelforge.facekit.ranges import ServedObject, serve_object
from reelforge.media.content_tags import etag_matches
from reelforge.media.keys import validate_key

__all__ = ["router"]

router = APIRouter(tags=["media"])

_CACHE_CONTROL = "public, max-age=3600"

_EXTENSION_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file", "content": {"*/*": {}}},
    206: {"description": "The requested byte range", "content": {"*/*": {}}},
    304: {"description": "Not modified: If-None-Match names this file's ETag"},
    416: {"description": "RANGE_NOT_SATISFIABLE: the range lies past the end"},
}


@router.get("/media/{key:path}", response_model=None, response_class=Response, responses=_RESPONSES)
async def get_media(key: str, request: Request, services: ServicesDep) -> Response:
    return await _serve(key, request, services)


@router.head("/media/{key:path}", response_model=None, include_in_schema=False)
async def head_media(key: str, request: Request, services: ServicesDep) -> Response:
    return await _serve(key, request, services)


async def _serve(key: str, request: Request, services: ServicesDep) -> Response:
    key = validate_key(key)
    try:
        info = await services.store.head(key)
    except NotFound:
        raise NotFound("No media at this address.", details={"key": key}) from None
    etag = await services.content_tags.etag(info)
    if etag is not None and etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": _CACHE_CONTROL})
    suffix = key[key.rfind(".") :].lower() if "." in key else ""
    served = ServedObject(
        key=key,
        size=info.size,
        content_type=_EXTENSION_TYPES.get(suffix, "application/octet-stream"),
        etag=etag,
        cache_control=_CACHE_CONTROL,
    )
    return serve_object(request, services.store, served)
