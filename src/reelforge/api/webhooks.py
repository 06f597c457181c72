"""``POST /webhooks/{provider}``: a provider's callback, handed to the engine's inbox.

Providers cannot send our token: each callback is verified by its adapter instead
(:class:`reelforge.engine.webhooks.WebhookInbox`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from reelforge.api.deps import ServicesDep
from reelforge.engine.webhooks import MAX_WEBHOOK_BODY
from reelforge.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/{provider}")
async def receive_webhook(provider: str, request: Request, services: ServicesDep) -> dict[str, Any]:
    """A provider's callback: verified by its adapter, recorded, delivered to its job."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_WEBHOOK_BODY:
        raise InvalidInput("The webhook body is too large.")
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BODY:
        raise InvalidInput("The webhook body is too large.")
    # Our webhook URLs name the job and attempt, for callbacks of submissions never recorded.
    query = dict(request.query_params)
    return await services.engine.webhooks.receive(
        provider, dict(request.headers), body, query=query
    )
