"""Every error leaves the API in one shape: ``{"success": false, "error": {...}}``.

The envelope is the transform spec's, used on every route. Request validation errors become
``INVALID_INPUT`` naming each offending field; a body past the server's bound on its route
(``server.max_body_bytes``, or the route's media limit) ``MEDIA_TOO_LARGE``; anything
unexpected becomes ``INTERNAL_ERROR`` without internals in the body. The log gets one
``api.unhandled_error`` line: the route's path, the error's type and
:func:`~reelforge.log.exception_text` (frames and types, never a local value, the request's body
or its media). It is caught by :class:`UnexpectedErrors`, inside Starlette's outermost
middleware, which would otherwise raise it again for the server to log in full.
Every other answer of 500 or more is logged too (``api.server_error``, with its code and cause):
what the app is told in a short envelope, the operator finds in the log.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.errors import MediaTooLarge, NotFound, ReelforgeError
from reelforge.log import exception_text, get_logger
from reelforge.validation import invalid_input

__all__ = [
    "UnexpectedErrors",
    "body_too_large",
    "error_response",
    "install_error_handlers",
    "unexpected_error",
]

log = get_logger(__name__)

_HTTP_CODES = {405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 416: "RANGE_NOT_SATISFIABLE"}


def error_response(error: ReelforgeError) -> JSONResponse:
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(0, round(error.retry_after)))
    return JSONResponse(
        status_code=error.http_status,
        content={"success": False, "error": error.to_payload()},
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ReelforgeError)
    async def _reelforge_error(request: Request, exc: ReelforgeError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error(
                "api.server_error",
                method=request.method,
                path=request.url.path,
                status=exc.http_status,
                code=exc.code,
                message=exc.message,
                details=exc.details,
                exc_info=exc,
            )
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(invalid_input(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(NotFound("No such resource."))
        if exc.status_code == 413:  # api.body_limit's refusal, read as it streamed
            return error_response(body_too_large(getattr(exc, "max_bytes", None)))
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        error = {
            "code": code,
            "message": str(exc.detail),
            "details": {},
            "statusCode": exc.status_code,
        }
        # A 405 keeps Starlette's ``Allow`` header: the methods the path does take.
        return JSONResponse(
            status_code=exc.status_code,
            content={"success": False, "error": error},
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only what UnexpectedErrors cannot catch (a failing middleware outside it) gets here.
        return unexpected_error(request.url.path, exc)

    app.add_middleware(UnexpectedErrors)


def unexpected_error(path: str, exc: Exception) -> JSONResponse:
    """Log an unexpected error without its data, and answer ``INTERNAL_ERROR``."""
    log.error(
        "api.unhandled_error",
        path=path,
        error_type=type(exc).__name__,
        exception=exception_text(exc),
    )
    return error_response(ReelforgeError("Something went wrong on our side."))


class UnexpectedErrors:
    """ASGI middleware: an exception that escapes a route before its answer has started is
    logged once (:func:`unexpected_error`) and answered with the envelope, not raised again.
    One raised after the answer has started can only be raised on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            response = unexpected_error(str(scope.get("path", "")), exc)
            await response(scope, receive, send)


def body_too_large(max_bytes: int | None) -> MediaTooLarge:
    """A request body past the server's bound on its route (:mod:`reelforge.api.body_limit`)."""
    if max_bytes is None:
        return MediaTooLarge("The request body is too large for this route.")
    return MediaTooLarge(
        f"The request body is too large: this route takes at most {max_bytes} bytes.",
        details={"max_bytes": max_bytes},
    )
