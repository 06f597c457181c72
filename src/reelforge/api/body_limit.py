"""The server's bound on request bodies: ``server.max_body_bytes``, more where media comes in.

Every route reads at most its bound: a JSON or form route ``server.max_body_bytes``; a route
that takes media (the assets' upload and base64, the transform's form and JSON, MCP carrying the
transform's base64) the bound of its media, named by path prefix where the app is built. A body
announced larger (``Content-Length``) is refused before a byte of it is read; one that streams
past the bound is refused with the chunk that passes it, and nothing more is read. Either way
the answer is ``MEDIA_TOO_LARGE`` (413) in the error envelope, with ``max_bytes``.

Starlette has a body limit of its own, but it answers an announced oversize body in plain text,
outside the envelope every route promises; this one is the same few lines, answering ours.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.api.errors import body_too_large, error_response

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` past the bound. An HTTP exception, so that FastAPI lets it through
    its body parsing (any other error there becomes a 400) to the API's handler, which answers
    a 413 carrying ``max_bytes`` in the envelope."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail="Content Too Large")
        self.max_bytes = max_bytes


class BodyLimit:
    """ASGI middleware: ``default`` bytes for every body, ``routes`` (path prefix to bytes) for
    the paths under a prefix."""

    def __init__(self, app: ASGIApp, *, default: int, routes: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes)

    def limit(self, path: str) -> int:
        for prefix, limit in self.routes.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            await error_response(body_too_large(limit))(scope, receive, send)
            return
        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, bounded_receive, send)
