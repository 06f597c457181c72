"""Our errors as MCP tool errors: what every tool of the MCP server runs through.

A leaf (it imports only :mod:`reelforge.errors` and the MCP SDK's error class), so that the
features' tools and the MCP server can both use it without importing each other.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from reelforge.errors import ReelforgeError

__all__ = ["tool_errors"]

P = ParamSpec("P")
R = TypeVar("R")


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap a tool so our errors reach the agent as the public envelope, never a traceback."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ReelforgeError as exc:
            raise ToolError(json.dumps({"success": False, "error": exc.to_payload()})) from exc

    return wrapper
