"""The MCP server: the same services as REST, as tools for agents.

One :class:`~mcp.server.mcpserver.MCPServer` is built per process by :func:`build_mcp_server`.
The generic run tools (:mod:`reelforge.mcp.runs`) start and read any feature's runs. Each
feature contributes its own tools through its ``register(server, service)``, called here with
its service; nothing registers itself on import. Every tool runs through
:func:`~reelforge.tool_errors.tool_errors`, which turns a Reelforge error into an MCP tool error
whose text is our JSON error envelope, so an agent sees the same codes as a REST client.

Transports: stdio (``reelforge mcp``) and streamable HTTP, mounted under the API at ``/mcp``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from reelforge import __version__
from reelforge.mcp.hooks import register_hook_tools
from reelforge.mcp.runs import register_run_tools
from reelforge.services import Services
from reelforge.tool_errors import tool_errors

__all__ = ["build_mcp_server"]

INSTRUCTIONS = (
    "Reelforge turns stories into pictures and motion. Tools render storyboard key frames, "
    "make video segments, manage character images, trigger cutscenes and transform photos. "
    "Errors come back as JSON: {success: false, error: {code, message, details, statusCode}}."
)


def _register_core_tools(server: MCPServer, services: Services) -> None:
    @server.tool(
        name="list_providers",
        description="The generation providers this Reelforge knows, what each can do, and "
        "whether its key is configured.",
    )
    @tool_errors
    async def list_providers() -> dict[str, Any]:
        registry = services.providers
        providers = []
        for provider_id in registry.ids:
            cls = registry.provider_class(provider_id)
            providers.append(
                {
                    "id": provider_id,
                    "name": cls.display_name,
                    "capabilities": sorted(c.value for c in cls.capabilities),
                    "key_env": cls.key_env,
                    "key_envs": list(cls.key_envs()),
                    "configured": registry.is_configured(provider_id),
                    "default": provider_id == registry.default_id,
                }
            )
        return {"providers": providers}


def build_mcp_server(services: Services) -> MCPServer:
    server: MCPServer = MCPServer(
        name="reelforge", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    _register_core_tools(server, services)
    register_run_tools(server, services.runs, services.engine)
    register_hook_tools(server, services.hooks)
    # Imported here, not at module top, so importing the MCP package stays cheap.
    from reelforge.features.characters import tools as character_tools
    from reelforge.features.cutscenes import tools as cutscene_tools
    from reelforge.features.keyframes import tools as keyframes_tools
    from reelforge.features.segments import tools as segment_tools
    from reelforge.features.transform import tools as transform_tools

    # Each feature's tools over its service, in a stable order.
    character_tools.register(server, services.characters)
    keyframes_tools.register(server, services.keyframes, wait_s=services.settings.keyframes.wait_s)
    cutscene_tools.register(server, services.cutscenes)
    segment_tools.register(server, services.segments)
    transform_tools.register(server, services.transform)
    return server
