"""The emulator as one ASGI app: every emulated provider, plus the control API.

Each provider in :data:`reelforge.emulator.providers.EMULATED_PROVIDERS` is mounted under
``/{id}`` (fal: ``/fal/queue/...``, ``/fal/run/...``, ``/fal/api/v1/...``,
``/fal/rest/.well-known/jwks.json``).
The control API lives under ``/_emulator``:

``GET|POST /_emulator/config``
    Read, or partly replace, the configuration. Body (every field optional)::

        {"latency_s": 1.0, "queue_s": 0.2, "request_latency_s": 0.0, "hang_s": 30.0,
         "webhook_attempts": 3, "list_page_size": null,
         "faults": [{"provider": "fal", "operation": "submit", "kind": "http_429",
                     "count": 1, "retry_after": 2},
                    {"provider": "fal", "operation": "webhook", "kind": "duplicated"}]}

    ``faults`` replaces the armed rules; see :mod:`reelforge.emulator.faults` for the kinds and the
    operations they apply to. ``list_page_size`` caps the page of every vendor listing (for
    paging tests; null: each vendor's own size). The answer is the configuration plus
    ``armed`` (rules with what is left of their ``count``). An invalid body gets 422 and
    pydantic's error list.
``GET /_emulator/ledger[?provider=fal]``
    ``{"calls": [{seq, at, provider, operation, method, path, status, request_id, fault,
    client_gone}],
    "billed": [{at, provider, request_id, model, units, unit, amount_usd}],
    "webhooks": [{at, provider, request_id, url, attempt, status, fault, error}],
    "providers": {"fal": {"calls": {"submit": 3, ...}, "billed": 2, "billed_usd": "0.05",
    "in_flight": 0, "max_in_flight": 2, "holding": 0}}}``; ``holding`` counts the accept calls
    whose answer a ``hold_accept`` fault is holding right now (the submit window is open); a held
    call's record is written when the hold ends.
``POST /_emulator/reset``
    Cancel running jobs, clear the ledger, the inboxes and the faults, restore the startup
    configuration. Rendered media stay cached.
``GET /_emulator/files/{provider}/{request_id}/{name}`` (and ``/_emulator/files/{name}``)
    The outputs' bytes (URLs in provider results point here); file faults in
    :mod:`reelforge.emulator.files`.
``POST|GET /_emulator/inbox/{box}``
    A webhook catcher: ``POST`` stores the request as received (headers, body in base64, the
    query string as sent);
    ``GET`` lists what arrived, oldest first. Lets tests and users receive callbacks without
    running a server of their own.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from reelforge.emulator.base import EmulatedProvider, EmulatorContext, json_body
from reelforge.emulator.files import serve_file
from reelforge.emulator.media import MediaLibrary
from reelforge.emulator.providers import EMULATED_PROVIDERS
from reelforge.emulator.state import EmulatorConfig, EmulatorState
from reelforge.emulator.webhooks import WebhookSender

__all__ = ["build_emulator_app", "emulator_context"]

_WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def build_emulator_app(
    *,
    config: EmulatorConfig | None = None,
    providers: Sequence[type[EmulatedProvider]] = EMULATED_PROVIDERS,
    media: MediaLibrary | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """A fresh emulator (its own state, keys and media cache). Serve it with uvicorn."""
    state = EmulatorState(config, clock)
    context = EmulatorContext(state=state, media=media or MediaLibrary())
    emulated = [cls(context) for cls in providers]
    inboxes: dict[str, list[dict[str, Any]]] = {}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=_WEBHOOK_TIMEOUT, trust_env=False) as http:
            context.webhooks = WebhookSender(state, http)
            try:
                yield
            finally:
                state.reset()
                context.webhooks = None

    async def read_config(_request: Request) -> Response:
        return _config_response(state)

    async def write_config(request: Request) -> Response:
        update = await json_body(request)
        if not isinstance(update, dict):
            return JSONResponse({"detail": "The body must be a JSON object."}, status_code=422)
        try:
            state.configure(update)
        except ValidationError as exc:
            return JSONResponse(
                {"detail": json.loads(exc.json(include_url=False))}, status_code=422
            )
        return _config_response(state)

    async def ledger(request: Request) -> Response:
        return JSONResponse(state.ledger(request.query_params.get("provider")))

    async def reset(_request: Request) -> Response:
        state.reset()
        inboxes.clear()
        return JSONResponse({"reset": True})

    async def file(request: Request) -> Response:
        return await serve_file(context, request)

    async def inbox_post(request: Request) -> Response:
        body = await request.body()
        inboxes.setdefault(request.path_params["box"], []).append(
            {
                "at": state.clock(),
                "headers": dict(request.headers),
                "query": request.url.query,
                "body_b64": base64.b64encode(body).decode(),
            }
        )
        return JSONResponse({"received": True})

    async def inbox_get(request: Request) -> Response:
        return JSONResponse(inboxes.get(request.path_params["box"], []))

    async def health(_request: Request) -> Response:
        return JSONResponse({"ok": True, "providers": [p.id for p in emulated]})

    routes: list[BaseRoute] = [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/config", read_config, methods=["GET"]),
        Route("/_emulator/config", write_config, methods=["POST"]),
        Route("/_emulator/ledger", ledger, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/files/{name}", file, methods=["GET"]),
        Route("/_emulator/files/{provider}/{request_id}/{name}", file, methods=["GET"]),
        Route("/_emulator/inbox/{box}", inbox_post, methods=["POST"]),
        Route("/_emulator/inbox/{box}", inbox_get, methods=["GET"]),
        *(Mount(f"/{provider.id}", routes=list(provider.routes())) for provider in emulated),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.emulator = context
    return app


def emulator_context(app: Starlette) -> EmulatorContext:
    """The state behind an app from :func:`build_emulator_app` (for in-process inspection)."""
    context: EmulatorContext = app.state.emulator
    return context


def _config_response(state: EmulatorState) -> Response:
    return JSONResponse(state.config.model_dump(mode="json") | {"armed": state.armed_faults()})
