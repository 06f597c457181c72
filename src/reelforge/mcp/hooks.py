"""MCP tools for outgoing webhooks: a project's subscriptions, their delivery log, redelivery.

- ``list_webhooks``, ``subscribe_webhook``, ``unsubscribe_webhook``: a project's subscriptions;
- ``list_webhook_deliveries``: a subscription's deliveries with every attempt;
- ``redeliver_webhook``: send a delivery again.
"""

# No ``from __future__ import annotations``: the MCP SDK reads these signatures at runtime.

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from reelforge.engine.hooks.service import HookService
from reelforge.tool_errors import tool_errors

__all__ = ["register_hook_tools"]

Id = Annotated[str, Field(min_length=1, max_length=64)]
ProjectId = Annotated[str, Field(min_length=1, max_length=128)]


def register_hook_tools(server: MCPServer, hooks: HookService) -> None:
    @server.tool(name="list_webhooks", description="A project's webhook subscriptions.")
    @tool_errors
    async def list_webhooks(project_id: ProjectId) -> dict[str, Any]:
        return {"subscriptions": [s.to_json() for s in await hooks.subscriptions(project_id)]}

    @server.tool(
        name="subscribe_webhook",
        description="Send a project's events (run.completed, run.failed, run.canceled, "
        "job.failed, cutscene.ready, budget.exhausted; all by default) to a URL, signed with "
        "the Standard Webhooks scheme.",
    )
    @tool_errors
    async def subscribe_webhook(
        project_id: ProjectId,
        url: Annotated[str, Field(min_length=1, max_length=2048)],
        events: Annotated[list[str] | None, Field(max_length=16)] = None,
    ) -> dict[str, Any]:
        return (await hooks.subscribe(project_id, url, events)).to_json()

    @server.tool(name="unsubscribe_webhook", description="Delete a webhook subscription.")
    @tool_errors
    async def unsubscribe_webhook(subscription_id: Id) -> dict[str, Any]:
        await hooks.unsubscribe(subscription_id)
        return {"deleted": subscription_id}

    @server.tool(
        name="list_webhook_deliveries",
        description="A subscription's deliveries, newest first, each with every attempt.",
    )
    @tool_errors
    async def list_webhook_deliveries(
        subscription_id: Id, limit: Annotated[int, Field(ge=1, le=500)] = 50
    ) -> dict[str, Any]:
        found = await hooks.deliveries(subscription_id, limit=limit)
        return {"deliveries": [delivery.to_json() for delivery in found]}

    @server.tool(name="redeliver_webhook", description="Send a webhook delivery again.")
    @tool_errors
    async def redeliver_webhook(delivery_id: Id) -> dict[str, Any]:
        return (await hooks.redeliver(delivery_id)).to_json()
