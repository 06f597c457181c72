"""``/api/media``: the spec's media routes, the triggers, and the session's live stream.

Mounted under ``/api/media`` with bearer auth (a page's cookie also works):

- ``POST /cutscenes`` (``trigger_cutscene``): 202 with ``media_pending: true`` and the media
  ids; 200 with ``media_pending: false`` for a turn that gets none (``cutscene_type: none``)
  or a dry run; 402 ``budget_exhausted`` ("Session media budget exhausted", with the budget);
  409 while media generation is off for the campaign.
- ``POST /locations`` (``generate_location_visual``), ``POST /classify`` (turn signals to a
  cutscene type).
- ``GET|PUT /settings?campaign_id=``: the campaign's media settings.
- ``GET /turn/{turn_number}?campaign_id=[&session_id=]``, ``GET /gallery``, ``GET /cost``.
- ``GET /sse?campaign_id=&session_id=[&after=ID]``: server-sent events ``pending``,
  ``generating``, ``ready``, ``failed``, ``skipped``, each with its id: a client reconnecting
  with ``Last-Event-ID`` gets what it missed first.
- ``GET /records/{id}``: a media record as JSON; ``GET /{id}``: its file, streamed from the
  store, with single-range requests (``206``, ``Content-Range``; ``416`` past the end).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from reelforge.facekit.ranges import ServedObject, serve_object
from reelforge.features.cutscenes.feed import event_json
from reelforge.features.cutscenes.schemas import (
    ClassifyRequest,
    LocationVisualRequest,
    MediaSettingsUpdate,
    TriggerCutsceneRequest,
)
from reelforge.features.cutscenes.service import CutsceneService
from reelforge.media.store import MediaStore
from reelforge.validation import Int64, NonNegativeInt64, last_event_id

__all__ = ["router"]

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
CampaignId = Annotated[str, Query(pattern=_ID_PATTERN)]
SessionId = Annotated[str, Query(pattern=_ID_PATTERN)]
OptionalSessionId = Annotated[str | None, Query(pattern=_ID_PATTERN)]


_ANY_JSON = {"application/json": {"schema": {"type": "object"}}}
# What the triggers answer besides 202 (every error in the API's envelope).
_TRIGGER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Nothing to make (cutscene_type none), or the dry run's plan",
        "content": _ANY_JSON,
    },
    402: {"description": "budget_exhausted: the session's media budget cannot cover a still"},
    409: {"description": "CONFLICT: media generation is off for the campaign"},
}
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "Server-sent events", "content": {"text/event-stream": {}}}
}
_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file", "content": {"*/*": {}}},
    206: {"description": "The requested byte range", "content": {"*/*": {}}},
    416: {"description": "RANGE_NOT_SATISFIABLE: the range lies past the end"},
}


def _pending_status(body: dict[str, Any]) -> int:
    return 202 if body.get("media_pending") else 200


def router(service: CutsceneService, store: MediaStore) -> APIRouter:
    """The ``/api/media`` routes over ``service``; files are streamed from ``store``."""
    routes = APIRouter(tags=["cutscenes"])

    async def serve(media_id: str, request: Request) -> Response:
        _record, asset = await service.open_media(media_id)
        served = ServedObject(
            key=asset.key,
            size=asset.size_bytes,
            content_type=asset.content_type,
            etag=f'"{asset.sha256}"',
            cache_control="private, max-age=3600",
        )
        return serve_object(request, store, served)

    @routes.post("/cutscenes", status_code=202, responses=_TRIGGER_RESPONSES)
    async def trigger_cutscene(
        request: TriggerCutsceneRequest, response: Response
    ) -> dict[str, Any]:
        body = await service.trigger(request)
        response.status_code = _pending_status(body)
        return body

    @routes.post("/locations", status_code=202, responses=_TRIGGER_RESPONSES)
    async def generate_location_visual(
        request: LocationVisualRequest, response: Response
    ) -> dict[str, Any]:
        body = await service.generate_location_visual(request)
        response.status_code = _pending_status(body)
        return body

    @routes.post("/classify")
    async def classify(request: ClassifyRequest) -> dict[str, Any]:
        return service.classify(request.signals).model_dump(mode="json")

    @routes.get("/settings")
    async def get_settings(campaign_id: CampaignId) -> dict[str, Any]:
        settings = await service.settings(campaign_id)
        return {"campaign_id": campaign_id, **settings.model_dump(mode="json")}

    @routes.put("/settings")
    async def put_settings(campaign_id: CampaignId, update: MediaSettingsUpdate) -> dict[str, Any]:
        settings = await service.update_settings(campaign_id, update)
        return {"campaign_id": campaign_id, **settings.model_dump(mode="json")}

    @routes.get("/turn/{turn_number}")
    async def media_for_turn(
        turn_number: Int64,
        campaign_id: CampaignId,
        session_id: OptionalSessionId = None,
    ) -> dict[str, Any]:
        media = await service.media_for_turn(campaign_id, turn_number, session_id)
        return {"campaign_id": campaign_id, "turn_number": turn_number, "media": media}

    @routes.get("/gallery")
    async def gallery(
        campaign_id: CampaignId,
        session_id: OptionalSessionId = None,
        complete_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: NonNegativeInt64 = 0,
    ) -> dict[str, Any]:
        media = await service.gallery(
            campaign_id, session_id, complete_only=complete_only, limit=limit, offset=offset
        )
        return {"campaign_id": campaign_id, "session_id": session_id, "media": media}

    @routes.get("/cost")
    async def cost(campaign_id: CampaignId, session_id: OptionalSessionId = None) -> dict[str, Any]:
        return await service.cost(campaign_id, session_id)

    @routes.get("/sse", response_class=EventSourceResponse, responses=_SSE)
    async def media_stream(
        request: Request,
        campaign_id: CampaignId,
        session_id: SessionId,
        after: NonNegativeInt64 = 0,
    ) -> EventSourceResponse:
        last_seen = last_event_id(request.headers.get("last-event-id"))
        start = after if last_seen is None else last_seen

        async def stream() -> AsyncIterator[ServerSentEvent]:
            async for event in service.follow(campaign_id, session_id, start):
                yield ServerSentEvent(
                    data=json.dumps(event_json(event)), event=event.kind, id=str(event.id)
                )

        return EventSourceResponse(stream(), ping=15)

    @routes.get("/records/{media_id}")
    async def media_record(media_id: str) -> dict[str, Any]:
        return await service.media(media_id)

    @routes.get(
        "/{media_id}", response_model=None, response_class=Response, responses=_FILE_RESPONSES
    )
    async def media_file(media_id: str, request: Request) -> Response:
        return await serve(media_id, request)

    @routes.head("/{media_id}", response_model=None, include_in_schema=False)
    async def media_file_head(media_id: str, request: Request) -> Response:
        return await serve(media_id, request)

    return routes
