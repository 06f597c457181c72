"""The server's bound on request bodies: ``server.max_body_bytes`` for JSON and form routes,
the media's limit where media comes in, refused in the error envelope.

Checked on a raw socket where it matters: a body is announced and never sent, and the answer
must come anyway (a server that waited for it would never answer).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.services import Services, open_services


@dataclass
class Api:
    services: Services
    base_url: str


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = local_settings(tmp_path)
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
    ):
        yield Api(services, base_url)


async def _announce(
    base_url: str, path: str, content_type: str, *, length: int | None = None, sent: int = 0
) -> bytes:
    """Send a request's head announcing ``length`` bytes of body (None: chunked), then ``sent``
    bytes of it and never the rest; the answer."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {content_type}\r\n"
            f"{framing}\r\n\r\n"
        )
        writer.write(head.encode())
        for _ in range(0, sent, 16 * 1024):
            chunk = b"[" * 16 * 1024
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), timeout=10)
    finally:
        writer.close()


def _answer_json(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


@pytest.fixture
async def small_bounds(tmp_path: Path) -> AsyncIterator[Api]:
    """JSON bodies up to 64 KiB; media up to 256 KiB (so the limits are quick to pass)."""
    settings = local_settings(
        tmp_path,
        server={"max_body_bytes": 64 * 1024},
        ingest={"allowed_hosts": [], "max_bytes": 256 * 1024},
    )
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
    ):
        yield Api(services, base_url)


async def test_a_json_body_past_the_bound_is_refused_before_it_is_read(api: Api) -> None:
    raw = await _announce(api.base_url, "/v1/characters", "application/json", length=10**9)
    status, body = _answer_json(raw)
    assert status == 413
    assert body["error"]["code"] == "MEDIA_TOO_LARGE"
    assert body["error"]["details"] == {"max_bytes": 16 * 1024 * 1024}  # the default bound


async def test_base64_media_is_bounded_by_the_upload_limit_not_the_json_one(
    small_bounds: Api,
) -> None:
    async with httpx.AsyncClient(base_url=small_bounds.base_url, timeout=30) as http:
        # 100 KiB of image as base64: past the JSON bound, within the media limit.
        noise = Image.frombytes("RGB", (200, 170), os.urandom(200 * 170 * 3))
        buffer = io.BytesIO()
        noise.save(buffer, format="PNG")
        picture = buffer.getvalue()
        assert len(picture) * 4 // 3 > 64 * 1024
        assert len(picture) < 256 * 1024
        stored = await http.post("/v1/assets", json={"base64": base64.b64encode(picture).decode()})
        assert stored.status_code == 201, stored.text
        # Past the upload limit: refused from its length, before decoding.
        over = base64.b64encode(picture + bytes(256 * 1024)).decode()
        refused = await http.post("/v1/assets", json={"base64": over})
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "MEDIA_TOO_LARGE"
    # A body far past what the media limit allows is not read at all.
    raw = await _announce(
        small_bounds.base_url, "/v1/assets", "application/json", length=64 * 1024**2
    )
    status, body = _answer_json(raw)
    assert (status, body["error"]["code"]) == (413, "MEDIA_TOO_LARGE")


async def test_a_body_streaming_past_the_bound_is_cut_off_as_it_arrives(small_bounds: Api) -> None:
    raw = await _announce(
        small_bounds.base_url, "/v1/characters", "application/json", sent=128 * 1024
    )
    status, body = _answer_json(raw)
    assert status == 413
    assert body["error"]["details"] == {"max_bytes": 64 * 1024}


async def test_mcp_takes_what_its_tools_may_carry_past_the_json_bound(small_bounds: Api) -> None:
    arguments = {"name": "Mara", "description": "x" * 100 * 1024}
    message = {"name": "create_character", "arguments": arguments}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": message}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=small_bounds.base_url, timeout=30) as http:
        response = await http.post("/mcp/", json=body, headers=headers)
    assert response.status_code == 200, response.text
    data = next(line for line in response.text.splitlines() if line.startswith("data:"))
    text = json.loads(data[len("data:") :])["result"]["content"][0]["text"]
    # Read and answered by the tool: its own field limit, not the server's body bound.
    error = json.loads(text[text.index("{") :])["error"]
    assert (error["code"], error["details"]["fields"][0]["field"]) == (
        "INVALID_INPUT",
        "description",
    )
