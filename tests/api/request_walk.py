"""Every value a client can send to the API, found from the app's own OpenAPI document.

:func:`operations` lists every route (pages and login included, which the published document
leaves out); :func:`fields` walks an operation's parameters and bodies down to each text and
integer field (through ``$ref``, ``anyOf``, lists and free-form objects), so a test that sends
a bad value to each covers a field added tomorrow without naming it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import RouteContext, iter_route_contexts

__all__ = ["Field", "Operation", "fields", "operations", "schema_leaves"]

Where = Literal["path", "query", "json", "form", "multipart"]
Kind = Literal["string", "integer"]
_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class Field:
    """One field of one operation: where it goes, its location inside the body, its kind."""

    where: Where
    location: tuple[str | int, ...]
    kind: Kind

    @property
    def name(self) -> str:
        """The name the API's errors give it (``a.0.b``)."""
        return ".".join(str(part) for part in self.location)


class _Shown(RouteContext):
    """A route as the document sees it, hidden or not."""

    @property
    def include_in_schema(self) -> bool:
        return True


def operations(app: FastAPI) -> tuple[list[Operation], Mapping[str, Any]]:
    """Every operation of ``app`` (hidden routes too) and the document's components."""
    routes = [
        _Shown(context.route, context._route_context) for context in iter_route_contexts(app.routes)
    ]
    document = get_openapi(title="walk", version="0", routes=routes)
    found = [
        Operation(method, path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in _METHODS
    ]
    return found, document.get("components", {})


def fields(operation: Operation, components: Mapping[str, Any]) -> Iterator[Field]:
    """Every text and integer field of ``operation``."""
    for parameter in operation.spec.get("parameters", []):
        for kind in _kinds(parameter["schema"], components):
            yield Field(parameter["in"], (parameter["name"],), kind)
    content = operation.spec.get("requestBody", {}).get("content", {})
    bodies: list[tuple[Where, str]] = [
        ("json", "application/json"),
        ("form", "application/x-www-form-urlencoded"),
        ("multipart", "multipart/form-data"),
    ]
    for where, media_type in bodies:
        if media_type in content:
            for location, kind in _leaves(content[media_type]["schema"], components, (), 0):
                yield Field(where, location, kind)


def schema_leaves(
    schema: Mapping[str, Any], definitions: Mapping[str, Any]
) -> Iterator[tuple[tuple[str | int, ...], Kind]]:
    """The text and integer leaves of a JSON schema whose ``$ref``s name ``definitions``
    (an MCP tool's arguments: ``$defs``), each with its location."""
    yield from _leaves(schema, {"schemas": definitions}, (), 0)


def _resolve(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = components["schemas"][name]
    return schema


def _kinds(schema: Mapping[str, Any], components: Mapping[str, Any]) -> set[Kind]:
    """The scalar kinds a schema allows (``anyOf`` alternatives together)."""
    schema = _resolve(schema, components)
    found: set[Kind] = set()
    for option in schema.get("anyOf", [schema]):
        option = _resolve(option, components)
        kind = option.get("type")
        if kind == "string" and option.get("format") != "binary":
            found.add("string")
        elif kind == "integer":
            found.add("integer")
    return found


def _leaves(
    schema: Mapping[str, Any],
    components: Mapping[str, Any],
    location: tuple[str | int, ...],
    depth: int,
) -> Iterator[tuple[tuple[str | int, ...], Kind]]:
    schema = _resolve(schema, components)
    if depth > 8:
        return
    seen: set[tuple[tuple[str | int, ...], Kind]] = set()
    for option in schema.get("anyOf", schema.get("oneOf", [schema])):
        option = _resolve(option, components)
        for leaf in _option_leaves(option, components, location, depth):
            if leaf not in seen:
                seen.add(leaf)
                yield leaf


def _option_leaves(
    option: Mapping[str, Any],
    components: Mapping[str, Any],
    location: tuple[str | int, ...],
    depth: int,
) -> Iterator[tuple[tuple[str | int, ...], Kind]]:
    kind = option.get("type")
    if kind == "string" and option.get("format") != "binary" and location:
        yield location, "string"
    elif kind == "integer" and location:
        yield location, "integer"
    elif kind == "array" and "items" in option:
        yield from _leaves(option["items"], components, (*location, 0), depth + 1)
    elif kind == "object" or "properties" in option:
        for name, inner in option.get("properties", {}).items():
            yield from _leaves(inner, components, (*location, name), depth + 1)
        extra = option.get("additionalProperties")
        if extra is True or (isinstance(extra, Mapping) and not extra):
            # Free-form (``dict[str, Any]``): any key, any value.
            yield (*location, "any_key"), "string"
            yield (*location, "any_key"), "integer"
        elif isinstance(extra, Mapping):
            yield from _leaves(extra, components, (*location, "any_key"), depth + 1)
