"""Our errors as MCP tool errors: what every tool of the MCP server runs through.

A leaf (it imports only :mod:`reelforge.errors`, :mod:`reelforge.validation` and the MCP SDK's
error class), so that the features' tools and the MCP server can both use it without importing
each other.

Before a tool runs, its arguments are checked as the API checks a request
(:func:`~reelforge.validation.unstorable_values`): text holding a NUL character or a lone
surrogate, or a whole number beyond 64 bits, is refused as ``INVALID_INPUT`` naming the
argument, whatever the tool's own types; ``@tool_errors(messages={...})`` gives an argument
its spec's own message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import ParamSpec, TypeVar, overload

from mcp.server.mcpserver.exceptions import ToolError

from reelforge.errors import ReelforgeError
from reelforge.validation import refuse_unstorable, unstorable_values

__all__ = ["tool_errors"]

P = ParamSpec("P")
R = TypeVar("R")


@overload
def tool_errors(fn: Callable[P, Awaitable[R]], /) -> Callable[P, Awaitable[R]]: ...


@overload
def tool_errors(
    *, messages: Mapping[str, str]
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]: ...


def tool_errors(
    fn: Callable[P, Awaitable[R]] | None = None,
    /,
    *,
    messages: Mapping[str, str] | None = None,
) -> Callable[P, Awaitable[R]] | Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Wrap a tool so our errors reach the agent as the public envelope, never a traceback, and
    its arguments are checked first (see the module docstring); ``messages``: an argument's own
    message for a refusal, by name."""

    def wrap(tool: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(tool)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                # The SDK passes a tool's arguments by name.
                problems = unstorable_values(dict(kwargs), root="(arguments)")
                refuse_unstorable(problems, "Invalid arguments", messages=messages)
                return await tool(*args, **kwargs)
            except ReelforgeError as exc:
                raise ToolError(json.dumps({"success": False, "error": exc.to_payload()})) from exc

        return wrapper

    return wrap if fn is None else wrap(fn)
