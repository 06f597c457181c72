"""``reelforge mcp``: the MCP server over stdio, for an agent that starts Reelforge itself.

stdout carries the protocol, so everything else (logs, errors) goes to stderr. The services
open with the job engine in this process, as ``reelforge serve`` does: in embedded mode the two
cannot run on the same data directory at once (use the HTTP transport at ``/mcp/`` then).
Since it serves no HTTP itself, it needs ``public_url`` to say where its URLs are served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reelforge.cli.common import fail_on_error, load_settings

if TYPE_CHECKING:
    from reelforge.settings import Settings

__all__ = ["mcp"]


def mcp() -> None:
    """Serve Reelforge's MCP tools over stdio."""
    import asyncio

    settings = load_settings(service=True)
    with fail_on_error():
        asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    from reelforge.mcp.server import build_mcp_server
    from reelforge.services import open_services
    from reelforge.settings import require_public_url

    require_public_url(settings, "mcp")
    async with open_services(settings, engine="api") as services:
        await build_mcp_server(services).run_stdio_async()
