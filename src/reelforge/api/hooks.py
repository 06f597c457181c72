"""Outgoing webhooks: a project's subscriptions, their delivery log, manual redelivery.

- ``GET /v1/projects/{project_id}/webhooks``: the project's subscriptions;
- ``POST /v1/projects/{project_id}/webhooks`` ``{"url", "events"?}``: subscribe a URL to the
  project's events (all of them by default), ``201``; a URL the guard refuses is ``400
  URL_NOT_ALLOWED``;
- ``DELETE /v1/webhooks/{subscription_id}``: unsubscribe (its deliveries go with it), ``204``;
- ``GET /v1/webhooks/{subscription_id}/deliveries[?limit=&offset=]``: its deliveries, newest
  first, each with every attempt;
- ``GET /v1/webhook-deliveries/{delivery_id}``; ``POST .../redeliver``: send it again, ``202``.

A run's own ``callback_url`` is given when it is started (``POST /v1/runs``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from reelforge.engine.hooks.service import HookService
from reelforge.validation import NonNegativeInt64

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])


async def hook_service(request: Request) -> HookService:
    service: HookService = request.app.state.services.hooks
    return service


HookServiceDep = Annotated[HookService, Depends(hook_service)]


class Subscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048)
    events: list[str] | None = Field(default=None, max_length=16)


@router.get("/projects/{project_id}/webhooks")
async def list_subscriptions(project_id: str, hooks: HookServiceDep) -> dict[str, Any]:
    return {"subscriptions": [s.to_json() for s in await hooks.subscriptions(project_id)]}


@router.post("/projects/{project_id}/webhooks", status_code=201)
async def subscribe(project_id: str, body: Subscribe, hooks: HookServiceDep) -> dict[str, Any]:
    return (await hooks.subscribe(project_id, body.url, body.events)).to_json()


@router.delete("/webhooks/{subscription_id}", status_code=204)
async def unsubscribe(subscription_id: str, hooks: HookServiceDep) -> Response:
    await hooks.unsubscribe(subscription_id)
    return Response(status_code=204)


@router.get("/webhooks/{subscription_id}/deliveries")
async def list_deliveries(
    subscription_id: str,
    hooks: HookServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: NonNegativeInt64 = 0,
) -> dict[str, Any]:
    found = await hooks.deliveries(subscription_id, limit=limit, offset=offset)
    return {"deliveries": [delivery.to_json() for delivery in found]}


@router.get("/webhook-deliveries/{delivery_id}")
async def get_delivery(delivery_id: str, hooks: HookServiceDep) -> dict[str, Any]:
    return (await hooks.delivery(delivery_id)).to_json()


@router.post("/webhook-deliveries/{delivery_id}/redeliver", status_code=202)
async def redeliver(delivery_id: str, hooks: HookServiceDep) -> JSONResponse:
    return JSONResponse((await hooks.redeliver(delivery_id)).to_json(), status_code=202)
