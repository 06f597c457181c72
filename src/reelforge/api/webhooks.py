"""``POST /webhooks/{provider}``: a provider's callback, handed to the engine's inbox.

Providers cannot send our token: each callback is verified by its adapter instead
(:class:`reelforge.engine.webhooks.WebhookInbox`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from reelforge.api.deps import ServicesDep
from reelforge.engine.webhooks import MAX_WEBHOOK_BODY
from reelforge.errors import InvalidInput, ReelforgeError
from reelforge.services import Services

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/{provider}")
async def receive_webhook(provider: str, request: Request, services: ServicesDep) -> dict[str, Any]:
    """A provider's callback: verified by its adapter, recorded, delivered to its job; counted
    in the metrics, accepted (by outcome) or refused (by reason)."""
    counted = provider if provider in services.providers.ids else "other"
    try:
        answer = await _receive(provider, request, services)
    except ReelforgeError as exc:
        services.metrics.webhooks.refused(counted, str(exc.details.get("reason") or exc.code))
        raise
    services.metrics.webhooks.accepted(counted, str(answer.get("outcome", "received")))
    return answer


async def _receive(provider: str, request: Request, services: Services) -> dict[str, Any]:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_WEBHOOK_BODY:
        raise InvalidInput("The webhook body is too large.", details={"reason": "too_large"})
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BODY:
        raise InvalidInput("The webhook body is too large.", details={"reason": "too_large"})
    # Our webhook URLs name the job and attempt, for callbacks of submissions never recorded.
    query = dict(request.query_params)
    return await services.engine.webhooks.receive(
        provider, dict(request.headers), body, query=query
    )
