"""Every error leaves the API in one shape: ``{"success": false, "error": {...}}``.

The envelope is the transform spec's, used on every route. Request validation errors become
``INVALID_INPUT`` naming each offending field; anything unexpected becomes ``INTERNAL_ERROR``
without internals in the body (the traceback goes to the log). Every answer of 500 or more is
logged (``api.server_error``, with its code and cause; ``api.unhandled_error`` for the
unexpected): what the app is told in a short envelope, the operator finds in the log.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelforge.errors import NotFound, ReelforgeError
from reelforge.log import get_logger
from reelforge.validation import invalid_input

__all__ = ["error_response", "install_error_handlers"]

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
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        error = {
            "code": code,
            "message": str(exc.detail),
            "details": {},
            "statusCode": exc.status_code,
        }
        return JSONResponse(status_code=exc.status_code, content={"success": False, "error": error})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "api.unhandled_error",
            path=request.url.path,
            error_type=type(exc).__name__,
            exc_info=exc,
        )
        return error_response(ReelforgeError("Something went wrong on our side."))
