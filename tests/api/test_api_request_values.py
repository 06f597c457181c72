"""Values nothing can keep are refused at the boundary, on every field of every route and tool.

A NUL character (PostgreSQL refuses it), a lone surrogate (no UTF-8 encoder takes it) and a
whole number past 64 bits (no column holds it) pass a type check and used to fail deep inside
(500, ``STORAGE_ERROR``). Each test walks the app itself, the OpenAPI document of every route
(pages included) or the MCP tools' schemas, and sends a bad value to each text and integer
field in turn, on SQLite and PostgreSQL: each must be ``INVALID_INPUT`` naming that field, and
nothing may have been written. The server's bound on request bodies is checked on a raw socket:
the body announced is never sent, and the answer must come anyway.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

from api.request_walk import Field, Operation, fields, operations, schema_leaves
from fixtures import database as database_fixtures
from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.services import Services, open_services

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url

TOO_BIG = 2**63  # one past the largest signed 64-bit integer
DESCRIPTION = "a lighthouse keeper on a stormy night, lantern raised against the rain"
NUL = "\x00"
SURROGATE = "\ud800"
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@dataclass
class Api:
    services: Services
    base_url: str


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    settings = local_settings(tmp_path, database_url=database_url)
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
    ):
        yield Api(services, base_url)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _bad_values(field: Field) -> list[Any]:
    """The values to send: text only JSON can carry a lone surrogate (URLs and forms are UTF-8);
    a description long enough to pass its length check."""
    if field.kind == "integer":
        return [TOO_BIG if field.where == "json" else str(TOO_BIG)]
    text = f"{DESCRIPTION} {NUL}" if field.name.endswith("description") else f"a{NUL}b"
    if field.where != "json":
        return [text]
    return [text, text.replace(NUL, SURROGATE)]


def _nested(location: tuple[str | int, ...], value: Any) -> Any:
    """``value`` placed at ``location`` in otherwise empty objects and one-item lists."""
    for part in reversed(location):
        value = [value] if isinstance(part, int) else {part: value}
    return value


def _request(
    operation: Operation, field: Field, value: Any
) -> tuple[str, dict[str, Any], bytes | None, dict[str, str]]:
    """The path, query, body and headers of a request carrying ``value`` in ``field``; every
    other path parameter is a harmless word, everything else left out."""
    path = operation.path
    query: dict[str, Any] = {}
    for parameter in operation.spec.get("parameters", []):
        if parameter["in"] == "path":
            given = value if parameter["name"] == field.name else "x"
            path = path.replace("{" + parameter["name"] + "}", quote(str(given), safe=""))
    if field.where == "query":
        query[field.name] = value
    if field.where == "json":
        body = json.dumps(_nested(field.location, value)).encode()  # ASCII: \ud800 escaped
        return path, query, body, {"Content-Type": "application/json"}
    if field.where == "form":
        form = httpx.Request("POST", "http://x", data={field.name: value})
        return path, query, form.read(), dict(form.headers)
    if field.where == "multipart":
        fields = {"scene_description": DESCRIPTION, field.name: value}
        form = httpx.Request(
            "POST", "http://x", data=fields, files={"media": ("photo.png", _png(), "image/png")}
        )
        return path, query, form.read(), dict(form.headers)
    return path, query, None, {}


def _named(error: dict[str, Any]) -> set[str]:
    details = error["details"]
    return {problem["field"] for problem in details.get("fields", [])} | {details.get("field")}


@pytest.mark.slow  # every field of every route: tens of seconds
async def test_every_field_of_every_route_refuses_what_no_field_can_hold(api: Api) -> None:
    found, components = operations(create_app(api.services))
    cases = [
        (operation, field, value)
        for operation in found
        for field in fields(operation, components)
        for value in _bad_values(field)
    ]
    assert len(cases) > 200  # the walk found the API (a broken walk must not pass)
    wrong: list[str] = []
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        for operation, field, value in cases:
            path, query, body, headers = _request(operation, field, value)
            response = await http.request(
                operation.method.upper(), path, params=query, content=body, headers=headers
            )
            error = response.json().get("error") if response.status_code == 400 else None
            if error is None or error["code"] != "INVALID_INPUT" or field.name not in _named(error):
                wrong.append(
                    f"{operation.method.upper()} {operation.path} {field.where}:{field.name}"
                    f"={value!r}: {response.status_code} {response.text[:160]}"
                )
        # Nothing was written by any of them.
        assert (await http.get("/v1/assets")).json()["assets"] == []
        assert (await http.get("/v1/characters")).json()["characters"] == []
        assert (await http.get("/v1/budgets")).json()["budgets"] == []
    assert wrong == []


def _tool_arguments(tool: dict[str, Any], location: tuple[str | int, ...], value: Any) -> Any:
    """The required arguments of ``tool`` with plain valid values, and ``value`` at
    ``location``."""
    schema = tool["inputSchema"]
    arguments: dict[str, Any] = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        if "$ref" in prop:
            prop = schema["$defs"][prop["$ref"].rsplit("/", 1)[-1]]
        if "enum" in prop:
            arguments[name] = prop["enum"][0]
        else:
            plain = {"string": "x", "integer": 1, "boolean": False, "object": {}, "array": []}
            arguments[name] = plain[prop.get("type", "object")]
    top, *inner = location
    arguments[str(top)] = _nested(tuple(inner), value)
    return arguments


async def _call_tool(http: httpx.AsyncClient, name: str, arguments: Any) -> dict[str, Any]:
    """One JSON-RPC ``tools/call`` over streamable HTTP (the body written here, in ASCII)."""
    message = {"name": name, "arguments": arguments}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": message}
    response = await http.post("/mcp/", content=json.dumps(body), headers=MCP_HEADERS)
    assert response.status_code == 200, response.text
    data = next(line for line in response.text.splitlines() if line.startswith("data:"))
    result: dict[str, Any] = json.loads(data[len("data:") :])["result"]
    return result


async def test_every_mcp_tool_argument_refuses_what_no_field_can_hold(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as http:
        listed = await http.post(
            "/mcp/",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers=MCP_HEADERS,
        )
        data = next(line for line in listed.text.splitlines() if line.startswith("data:"))
        tools = json.loads(data[len("data:") :])["result"]["tools"]
        wrong: list[str] = []
        cases = 0
        for tool in tools:
            leaves = schema_leaves(tool["inputSchema"], tool["inputSchema"].get("$defs", {}))
            for location, kind in leaves:
                # A lone surrogate is refused by the MCP SDK's own JSON parser (a protocol
                # error, not a tool call): only what reaches the tools is sent.
                name = ".".join(str(part) for part in location)
                text = f"{DESCRIPTION} {NUL}" if name.endswith("description") else f"a{NUL}b"
                value = TOO_BIG if kind == "integer" else text
                result = await _call_tool(
                    http, tool["name"], _tool_arguments(tool, location, value)
                )
                cases += 1
                text_out = result["content"][0]["text"]
                refused = result.get("isError") and (
                    _envelope_names(text_out, name) or _sdk_refuses(text_out, str(location[0]))
                )
                if not refused:
                    wrong.append(f"{tool['name']} {name}={value!r}: {text_out[:200]}")
        assert (await http.get("/v1/characters")).json()["characters"] == []
    assert cases > 40
    assert wrong == []


def _envelope_names(text: str, field: str) -> bool:
    """Whether the tool's error text is our envelope, ``INVALID_INPUT`` naming ``field``."""
    start = text.find("{")
    if start < 0:
        return False
    error = json.loads(text[start:])["error"]
    return bool(error["code"] == "INVALID_INPUT" and field in _named(error))


def _sdk_refuses(text: str, argument: str) -> bool:
    """Whether the MCP SDK refused the argument by its declared type (an enum, say)."""
    return "validation error" in text and argument in text
