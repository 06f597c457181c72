"""The published OpenAPI document (``/openapi.json``), made to say what the API does.

FastAPI's own document promises a ``422`` with its validation body on every route that takes
input; this API answers ``400`` with the error envelope instead (:mod:`reelforge.api.errors`).
:func:`install_openapi` replaces the generated document's error answers with the real ones:

- ``400`` on every operation: each request's values are checked
  (:mod:`reelforge.api.request_values`), and so is its input;
- ``401`` on every operation behind the bearer token (those with ``security``);
- ``404`` on every operation with a path parameter (``NOT_FOUND``: no such resource);
- ``413`` on every operation that takes a body (:mod:`reelforge.api.body_limit`);
- ``500`` on every operation (``INTERNAL_ERROR``, nothing more said);
- the codes a route declares itself (``responses={402: {"description": ...}}``), each given the
  envelope's schema when it names no content of its own.

FastAPI's ``422`` is dropped everywhere, with its schemas; a route that really answers ``422``
(corrupt media, no face found, content refused) declares it and keeps it. The document is
checked against the running API by schemathesis (``tests/api/test_openapi_conformance.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ERROR_DESCRIPTIONS", "ErrorBody", "ErrorEnvelope", "install_openapi"]

_REF = "#/components/schemas/{model}"
_ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

#: What each error status means on this API (the code the envelope carries).
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "INVALID_INPUT (or URL_NOT_ALLOWED, provider_invalid_input): the request is refused; "
    "``details`` names each offending field",
    401: "UNAUTHORIZED: send an API token as 'Authorization: Bearer <token>'",
    402: "budget_exhausted: the budget cannot cover the work",
    404: "NOT_FOUND: no such resource",
    409: "CONFLICT: the resource is not in a state that allows this",
    413: "MEDIA_TOO_LARGE: the body (or its media) is past this route's bound; "
    "``details.max_bytes`` says the bound",
    415: "UNSUPPORTED_MEDIA_TYPE: the media is of a kind this route does not take",
    416: "RANGE_NOT_SATISFIABLE: the range lies past the end of the file",
    422: "CORRUPT_MEDIA, NO_FACE_DETECTED or content_rejected: the media or prompt was read, "
    "and refused",
    429: "provider_rate_limited: the provider asks to wait (``Retry-After``)",
    500: "INTERNAL_ERROR: something went wrong on our side (nothing more is said)",
    502: "provider_error (or FETCH_FAILED): a provider or a fetched URL failed",
    503: "NOT_CONFIGURED or provider_unavailable: nothing here can do it now",
    504: "TIMEOUT or provider_timeout: the work ran past its wait",
}


class ErrorBody(BaseModel):
    """One error: its stable code, a message safe to show, and structured details."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(examples=["INVALID_INPUT"])
    message: str
    details: dict[str, Any]
    statusCode: int = Field(ge=100, le=599)  # the envelope's spelling


class ErrorEnvelope(BaseModel):
    """Every error answer of the API: ``{"success": false, "error": {...}}``."""

    model_config = ConfigDict(extra="forbid")

    success: Literal[False]
    error: ErrorBody


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json``) publish the real error answers."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = published(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def published(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (FastAPI's) with the API's own error answers, changed in place."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    envelope = ErrorEnvelope.model_json_schema(ref_template=_REF)
    schemas.update(envelope.pop("$defs", {}))
    schemas["ErrorEnvelope"] = envelope
    for item in document.get("paths", {}).values():
        for method in _METHODS:
            if method in item:
                _error_answers(item[method], item)
    return document


def _error_answers(operation: dict[str, Any], item: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    fastapi_422 = responses.get("422", {})
    if "HTTPValidationError" in str(fastapi_422.get("content", {})):
        del responses["422"]
    codes = {400, 500}
    if operation.get("security"):
        codes.add(401)
    parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
    if any(parameter.get("in") == "path" for parameter in parameters):
        codes.add(404)
    if "requestBody" in operation:
        codes.add(413)
    codes.update(int(code) for code in responses if code.isdigit() and int(code) >= 400)
    for code in sorted(codes):
        answer = responses.setdefault(str(code), {})
        description = answer.get("description")
        if not description or description == "Additional Response":
            answer["description"] = ERROR_DESCRIPTIONS.get(code, "An error")
        answer.setdefault("content", {"application/json": {"schema": _ENVELOPE_REF}})
    operation["responses"] = dict(sorted(responses.items()))
