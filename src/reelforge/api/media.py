"""``/media/{key}``: public URLs of the local store, served by the API itself.

Media URLs are public by design (they are what an ``image_url`` points at), so this route sits
outside bearer auth. Keys are validated before the store is touched.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from reelforge.api.deps import ServicesDep
from reelforge.errors import NotFound
from reelforge.media.keys import validate_key

__all__ = ["router"]

router = APIRouter(tags=["media"])

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


@router.get("/media/{key:path}")
async def get_media(key: str, services: ServicesDep) -> StreamingResponse:
    key = validate_key(key)
    if not await services.store.exists(key):
        raise NotFound("No media at this address.", details={"key": key})
    info = await services.store.head(key)
    suffix = key[key.rfind(".") :].lower() if "." in key else ""
    media_type = _EXTENSION_TYPES.get(suffix, "application/octet-stream")
    return StreamingResponse(
        services.store.get_stream(key),
        media_type=media_type,
        headers={
            "Content-Length": str(info.size),
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )
