"""Every request's values checked before a route sees them: one dependency for the whole API.

Text holding a NUL character or a lone surrogate, and whole numbers beyond 64 bits, pass
pydantic's type checks (a lone surrogate only where a field takes any JSON) and then fail
deep inside: in PostgreSQL, in a UTF-8 encoder, in a database integer.
:func:`check_request_values` refuses them first (``INVALID_INPUT`` naming each field, see
:func:`~reelforge.validation.unstorable_values`) wherever they are: a path parameter, the query
(names and values), or a JSON or form body, whatever the route's models, so a field added later
is covered too.

The body is the one FastAPI already read for the route (Starlette keeps it, and its parsed
JSON or form, on the request), never read again: a route that reads its body itself (an
upload, the transform's form) checks its own fields.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, params
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile

from reelforge.validation import refuse_unstorable, unstorable_values

__all__ = ["check_request_values"]


async def check_request_values(request: Request) -> None:
    """Refuse a request carrying a value that cannot be kept (see the module docstring)."""
    query: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        query.setdefault(name, []).append(value)
    problems = [
        *unstorable_values(dict(request.path_params), root="(path)"),
        *unstorable_values(
            {name: values[0] if len(values) == 1 else values for name, values in query.items()},
            root="(query)",
        ),
        *unstorable_values(await _parsed_body(request)),
    ]
    refuse_unstorable(problems)


async def _parsed_body(request: Request) -> Any:
    """The body FastAPI parsed for this route (JSON, or a form's text fields), else None."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return None
    if isinstance(route.body_field.field_info, params.Form):
        form = await request.form()  # parsed already, kept by Starlette
        return {
            name: value for name, value in form.multi_items() if not isinstance(value, UploadFile)
        }
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    json_body = content_type.startswith("application/") and content_type.endswith(
        ("/json", "+json")
    )
    if not json_body or not await request.body():  # read already, kept by Starlette
        return None
    return await request.json()
