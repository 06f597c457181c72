"""The Cinematic Switch over HTTP: the spec's two endpoints, the catalog, and the page.

- ``POST /generate/cinematic``: multipart/form-data with the ``media`` file and
  ``scene_description``; optional ``style_preset``, ``output_count`` (1-5), ``aspect_ratio``,
  ``keep_upload``, ``project_id``, ``dry_run``. Read as it streams (:mod:`.upload`): an
  oversized file is cut off, never buffered. A JSON body with the same fields (``media`` as
  base64 or a URL) is accepted too. Answers the spec's envelope when done; with ``Accept:
  application/x-ndjson`` it streams progress lines first (``{"event": ...}``) and ends with
  ``{"event": "result", "status": 200, "body": <envelope>}`` (or ``"error"`` and the error
  envelope), which is what the page reads.
- ``POST /dev/run``: the spec's envelope ``{"provider", "task", "payload": {"image": base64 or
  URL, "prompt" or "scene_description", "model", "output_count", "aspect_ratio", ...}}``; a
  ``prompt`` is sent as written, a ``scene_description`` through the template; URLs go through
  safe ingest. ``"dry_run": true`` (top level or in the payload) prices the plan instead.
- ``GET /v1/transforms[?project_id=]``, ``GET /v1/transforms/{id}``: the catalog's records.

The page, ``GET /cinematic-switch``, is :mod:`.pages`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import ClientDisconnect

from reelforge.catalog.records import AssetRecord
from reelforge.errors import InvalidInput, ReelforgeError
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.schemas import (
    ASPECT_RATIOS,
    STYLE_PRESETS,
    FinishedTransform,
    Task,
    TransformRequest,
)
from reelforge.features.transform.service import TransformService
from reelforge.features.transform.upload import json_limit, receive_form
from reelforge.features.transform.validation import (
    check_description,
    check_values,
    media_error,
    missing_field,
    parse_request,
)
from reelforge.log import exception_text, get_logger
from reelforge.validation import NonNegativeInt64

__all__ = ["router"]

log = get_logger(__name__)

NDJSON = "application/x-ndjson"
TASKS: tuple[Task, ...] = ("IMAGE_GENERATION", "VIDEO_GENERATION")
_MULTIPART_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["scene_description"],
                    "properties": {
                        "media": {
                            "type": "string",
                            "format": "binary",
                            "description": "The photo or video (or give character_id)",
                        },
                        "character_id": {
                            "type": "string",
                            "description": "Instead of media: a workspace character, whose "
                            "newest reference image is transformed",
                        },
                        "scene_description": {"type": "string", "minLength": 10},
                        "style_preset": {"type": "string", "enum": list(STYLE_PRESETS)},
                        "output_count": {"type": "integer", "minimum": 1, "maximum": 5},
                        "aspect_ratio": {"type": "string", "enum": list(ASPECT_RATIOS)},
                        "keep_upload": {"type": "boolean"},
                        "project_id": {"type": "string"},
                        "dry_run": {"type": "boolean"},
                    },
                }
            }
        },
    }
}


_DEV_RUN_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["provider", "task", "payload"],
                    "properties": {
                        "provider": {"type": "string", "example": "DEFAULT"},
                        "task": {"type": "string", "enum": list(TASKS)},
                        "dry_run": {"type": "boolean"},
                        "payload": {
                            "type": "object",
                            "properties": {
                                "image": {"type": "string", "description": "base64 or URL"},
                                "video": {"type": "string", "description": "base64 or URL"},
                                "prompt": {"type": "string", "description": "sent as written"},
                                "scene_description": {"type": "string"},
                                "model": {"type": "string"},
                                "style_preset": {"type": "string"},
                                "output_count": {"type": "integer", "minimum": 1, "maximum": 5},
                                "aspect_ratio": {"type": "string"},
                                "keep_upload": {"type": "boolean"},
                                "project_id": {"type": "string"},
                            },
                        },
                    },
                }
            }
        },
    }
}


#: What a transform answers besides the API's own errors (the document adds the envelope).
_ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"description": "budget_exhausted"},
    415: {"description": "UNSUPPORTED_MEDIA_TYPE"},
    422: {"description": "CORRUPT_MEDIA, NO_FACE_DETECTED or content_rejected"},
    429: {"description": "provider_rate_limited"},
    502: {"description": "The provider failed (<VENDOR>_ERROR), or the media URL (FETCH_FAILED)"},
    503: {"description": "NOT_CONFIGURED or provider_unavailable"},
    504: {"description": "provider_timeout"},
}
_STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The spec's envelope; with Accept: application/x-ndjson, progress lines "
        "and then the envelope",
        "content": {NDJSON: {"schema": {"type": "string"}}},
    },
}


def router(service: TransformService) -> APIRouter:
    """The JSON routes over ``service`` (the one built by the composition root)."""
    routes = APIRouter(tags=["transform"])
    settings = service.settings
    running: set[asyncio.Task[Any]] = set()

    @routes.post(
        "/generate/cinematic", openapi_extra=_MULTIPART_SCHEMA, responses=_STREAMED | _ERRORS
    )
    async def generate_cinematic(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() == "application/json":
            fields = await _json_body(request, settings)
            checked = parse_request(fields, settings)
            if fields.get("media") is None and fields.get("character_id") is not None:
                upload = await service.receive_character(fields["character_id"])
            else:
                upload = await service.receive_text(fields.get("media"), "media")
        else:
            async with receive_form(
                _body(request),
                content_type=content_type,
                content_length=_content_length(request),
                settings=settings,
                temp_dir=service.temp_dir,
                check_field=lambda name, value: _early_check(name, value, settings),
            ) as form:
                character_id = form.fields.get("character_id")
                if form.media is None and character_id is None:
                    raise missing_field("media", "A photo or video file is required")
                checked = parse_request(form.fields, settings)
                if form.media is None:
                    upload = await service.receive_character(character_id)
                else:
                    upload = await service.receive(form.media)
        if NDJSON in request.headers.get("accept", ""):
            return _streamed(service, checked, upload, running)
        outcome = await service.transform(checked, upload, source="generate")
        return JSONResponse(outcome.to_envelope())

    @routes.post("/dev/run", openapi_extra=_DEV_RUN_SCHEMA, responses=_ERRORS)
    async def dev_run(request: Request) -> JSONResponse:
        body = await _json_body(request, settings)
        task, provider, payload = _envelope(body)
        checked = _dev_request(payload, body, provider, service)
        upload = await service.receive_text(_media_field(payload, task), _media_name(task))
        outcome = await service.transform(checked, upload, source="dev_run", task=task)
        envelope = outcome.to_envelope()
        model = payload.get("model")
        if isinstance(outcome, FinishedTransform) and model and model != outcome.model_used:
            envelope["result"]["data"].setdefault("warnings", []).append(
                f"The model is fixed: {outcome.model_used} was used, not {model}."
            )
        return JSONResponse(envelope)

    @routes.get("/v1/transforms")
    async def list_transforms(
        project_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: NonNegativeInt64 = 0,
    ) -> dict[str, Any]:
        found = await service.list_transforms(project_id=project_id, limit=limit, offset=offset)
        return {"transforms": found}

    @routes.get("/v1/transforms/{transform_id}")
    async def get_transform(transform_id: str) -> dict[str, Any]:
        return await service.get(transform_id)

    return routes


def _streamed(
    service: TransformService,
    checked: TransformRequest,
    upload: AssetRecord,
    running: set[asyncio.Task[Any]],
) -> StreamingResponse:
    """Progress as NDJSON. The transform runs in its own task, so a client that goes away
    neither stops it halfway nor leaves the upload behind."""
    lines: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def work() -> None:
        try:
            outcome = await service.transform(
                checked, upload, source="generate", progress=lines.put
            )
            await lines.put({"event": "result", "status": 200, "body": outcome.to_envelope()})
        except ReelforgeError as exc:
            body = {"success": False, "error": exc.to_payload()}
            await lines.put({"event": "error", "status": exc.http_status, "body": body})
        except Exception as exc:
            log.error(
                "transform.unhandled_error",
                error_type=type(exc).__name__,
                exception=exception_text(exc),
            )
            error = ReelforgeError("The transform failed unexpectedly.")
            body = {"success": False, "error": error.to_payload()}
            await lines.put({"event": "error", "status": 500, "body": body})
        finally:
            await lines.put(None)

    task = asyncio.create_task(work())
    running.add(task)
    task.add_done_callback(running.discard)

    async def body() -> AsyncIterator[bytes]:
        yield _line({"event": "received", "media_kind": upload.kind})
        while (item := await lines.get()) is not None:
            yield _line(item)

    return StreamingResponse(body(), media_type=NDJSON, headers={"Cache-Control": "no-store"})


def _line(item: Mapping[str, Any]) -> bytes:
    return (json.dumps(item, separators=(",", ":")) + "\n").encode()


def _early_check(name: str, value: str, settings: TransformSettings) -> None:
    # A field that arrives before the file is checked at once: no need to read the file.
    check_values({name: value})
    if name == "scene_description":
        check_description(value, name, settings)


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; a client that hangs up mid-upload is an incomplete file
    (answered to nobody, but not an internal error in the log)."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise media_error("incomplete") from None


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw is not None and raw.isascii() and raw.isdigit() else None


async def _json_body(request: Request, settings: TransformSettings) -> dict[str, Any]:
    """The JSON body, read with a cap (base64 media makes it large), as an object whose values
    can all be kept (:func:`.validation.check_values`)."""
    cap = json_limit(settings)
    media_max = max(settings.image_max_bytes, settings.video_max_bytes)
    declared = _content_length(request)
    if declared is not None and declared > cap:
        raise media_error("too_large", max_bytes=media_max)
    data = bytearray()
    async for chunk in _body(request):
        data += chunk
        if len(data) > cap:
            raise media_error("too_large", max_bytes=media_max)
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    check_values(body)
    return body


def _envelope(body: Mapping[str, Any]) -> tuple[Task, str | None, dict[str, Any]]:
    provider, task, payload = body.get("provider"), body.get("task"), body.get("payload")
    if not isinstance(provider, str) or not provider.strip():
        raise missing_field("provider", "Name the provider (its id, or DEFAULT)")
    if not isinstance(task, str) or not task.strip():
        raise missing_field("task", "Name the task, e.g. IMAGE_GENERATION")
    if task not in TASKS:
        raise InvalidInput(
            f"task must be one of: {', '.join(TASKS)}.",
            details={"field": "task", "allowed": list(TASKS)},
        )
    if not isinstance(payload, dict):
        raise missing_field("payload", "The payload object is required")
    name = provider.strip().lower()
    return task, None if name in ("default", "auto") else name, payload


def _dev_request(
    payload: Mapping[str, Any],
    body: Mapping[str, Any],
    provider: str | None,
    service: TransformService,
) -> TransformRequest:
    settings = service.settings
    fields = dict(payload)
    if "dry_run" not in fields and "dry_run" in body:
        fields["dry_run"] = body["dry_run"]
    if payload.get("scene_description") is not None or payload.get("prompt") is None:
        checked = parse_request(fields, settings)
    else:
        checked = parse_request(fields, settings, description_field="prompt", verbatim_prompt=True)
    if provider is not None:
        provider = service.check_provider(provider)  # an unknown name is refused here
    return replace(checked, provider=provider)


def _media_name(task: Task) -> str:
    return "video" if task == "VIDEO_GENERATION" else "image"


def _media_field(payload: Mapping[str, Any], task: Task) -> Any:
    value = payload.get(_media_name(task))
    return value if value is not None else payload.get("media")
