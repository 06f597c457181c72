"""``/v1/assets``: ingest (URL, base64, raw upload), list, show, delete.

Media is refused past ``ingest.max_bytes`` by ingest itself (``MEDIA_TOO_LARGE``; base64 from
its length, before decoding). The server's bound on these routes' bodies,
:func:`body_limit`, lies past that, so that is the refusal a client sees.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from reelforge.api.deps import ServicesDep
from reelforge.errors import InvalidInput
from reelforge.validation import NonNegativeInt64

__all__ = ["body_limit", "router"]

router = APIRouter(tags=["assets"])

_BODY_OVERHEAD = 1024 * 1024


def body_limit(max_bytes: int) -> int:
    """The largest body of these routes: a file of ``max_bytes`` as base64 (4/3), with room
    for line breaks in it and the other fields."""
    return max_bytes * 3 // 2 + _BODY_OVERHEAD


class IngestRequest(BaseModel):
    """Exactly one of ``url`` (fetched through safe ingest) or ``base64`` (or a data: URI)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=8192)
    base64: str | None = None
    project_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _one_source(self) -> IngestRequest:
        if (self.url is None) == (self.base64 is None):
            raise ValueError("give exactly one of url or base64")
        return self


_MEDIA_REFUSED: dict[int | str, dict[str, Any]] = {
    413: {"description": "MEDIA_TOO_LARGE: past ingest.max_bytes"},
    415: {"description": "UNSUPPORTED_MEDIA_TYPE: not an image or video this API takes"},
    422: {"description": "CORRUPT_MEDIA: the media cannot be read"},
}
_FETCH_FAILED: dict[int | str, dict[str, Any]] = {
    502: {"description": "FETCH_FAILED: the URL could not be fetched"}
}
# The upload's body is the file itself, read as it streams (no JSON, no form).
_RAW_FILE: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/assets", status_code=status.HTTP_201_CREATED, responses={**_MEDIA_REFUSED, **_FETCH_FAILED}
)
async def ingest_asset(body: IngestRequest, services: ServicesDep) -> dict[str, Any]:
    if body.url is not None:
        record = await services.assets.ingest_url(body.url, project_id=body.project_id)
    else:
        assert body.base64 is not None
        record = await services.assets.ingest_base64(body.base64, project_id=body.project_id)
    return services.assets.view(record)


@router.post(
    "/assets/upload",
    status_code=status.HTTP_201_CREATED,
    responses=_MEDIA_REFUSED,
    openapi_extra=_RAW_FILE,
)
async def upload_asset(
    request: Request,
    services: ServicesDep,
    project_id: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    """The raw request body is the file; it is streamed, never buffered whole."""
    record = await services.assets.ingest_stream(request.stream(), project_id=project_id)
    return services.assets.view(record)


@router.get("/assets")
async def list_assets(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: NonNegativeInt64 = 0,
    kind: Literal["image", "video"] | None = None,
) -> dict[str, Any]:
    records = await services.catalog.assets.list(limit=limit, offset=offset, kind=kind)
    return {"assets": [services.assets.view(r) for r in records]}


@router.get("/assets/{asset_id}")
async def get_asset(asset_id: str, services: ServicesDep) -> dict[str, Any]:
    return services.assets.view(await services.assets.get(asset_id))


@router.delete("/assets/{asset_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_asset(asset_id: str, services: ServicesDep) -> Response:
    if not asset_id:
        raise InvalidInput("An asset id is required.")
    await services.assets.delete(asset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
