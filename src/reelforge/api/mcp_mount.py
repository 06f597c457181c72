"""The MCP server over streamable HTTP, mounted under the API at ``/mcp/``, behind bearer auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reelforge.api.auth import BearerAuth
from reelforge.errors import Unauthorized
from reelforge.mcp.server import build_mcp_server
from reelforge.services import Services

__all__ = ["McpMount", "mount_mcp"]


@dataclass
class McpMount:
    server: MCPServer
    app: ASGIApp

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """The MCP session manager runs for the life of the API."""
        async with self.server.session_manager.run():
            yield


def mount_mcp(services: Services, auth: BearerAuth) -> McpMount:
    server = build_mcp_server(services)
    inner = server.streamable_http_app(
        streamable_http_path="/", stateless_http=True, host=services.settings.server.host
    )

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not auth.authorized(Request(scope)):
            error = Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
            response = JSONResponse(
                {"success": False, "error": error.to_payload()}, status_code=error.http_status
            )
            await response(scope, receive, send)
            return
        await inner(scope, receive, send)

    return McpMount(server=server, app=guarded)
