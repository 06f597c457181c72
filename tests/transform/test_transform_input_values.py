"""The transform's own intake (it reads its bodies itself): bad text refused in the spec's words,
base64 refused before it is decoded, and a refusal that leaves nothing behind.

On SQLite and PostgreSQL, over real HTTP (and MCP over streamable HTTP). Each refusal is checked
to leave nothing at any layer: no asset row, no file in the store, no file in the scratch folder.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures import database as database_fixtures
from reelforge.errors import InvalidInput
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.upload import decode_base64_media
from reelforge.features.transform.validation import MEDIA_MESSAGE, TEXT_MESSAGE
from transform.transform_support import (
    DESCRIPTION,
    IMAGE_LIMIT,
    PNG_HEADER,
    TransformApp,
    astronaut,
    encoded,
    small_mp4,
    transform_app,
    transform_settings,
)

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url

PHOTO = "data:image/png;base64," + base64.b64encode(encoded(astronaut())).decode()
VIDEO = "data:video/mp4;base64," + base64.b64encode(small_mp4()).decode()
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture
async def app(tmp_path: Path, database_url: str) -> AsyncIterator[TransformApp]:
    settings = transform_settings(tmp_path / "data", database_url=database_url)
    async with transform_app(settings, environ={}, engine=False) as served:
        yield served


async def _post(app: TransformApp, path: str, body: dict[str, Any]) -> httpx.Response:
    """``body`` as ASCII JSON: a lone surrogate travels as its ``\\ud800`` escape."""
    async with httpx.AsyncClient(base_url=app.base_url, timeout=60) as http:
        return await http.post(
            path, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )


async def _nothing_left(app: TransformApp) -> None:
    assert await app.services.catalog.assets.list(limit=10) == []
    settings = app.services.settings
    assert [p for p in settings.media_root.rglob("*") if p.is_file()] == []
    assert [p for p in settings.ingest_temp_dir.rglob("*") if p.is_file()] == []


def _text_refusal(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("INVALID_INPUT", TEXT_MESSAGE)
    assert error["details"]["field"] == field


@pytest.mark.parametrize("bad", [chr(0xD800), chr(0xDFFF), chr(0)], ids=["high", "low", "nul"])
async def test_a_description_no_text_may_hold_is_the_specs_text_error(
    app: TransformApp, bad: str
) -> None:
    description = f"{DESCRIPTION} {bad}"
    _text_refusal(
        await _post(app, "/generate/cinematic", {"media": PHOTO, "scene_description": description}),
        "scene_description",
    )
    dev_run = {"provider": "DEFAULT", "task": "IMAGE_GENERATION"}
    for name in ("prompt", "scene_description"):
        payload = {"image": PHOTO, name: description}
        _text_refusal(
            await _post(app, "/dev/run", {**dev_run, "payload": payload}), f"payload.{name}"
        )
    # Any other text of the body too (the model is only echoed back in a warning).
    payload = {"image": PHOTO, "prompt": DESCRIPTION, "model": f"m{bad}"}
    refused = await _post(app, "/dev/run", {**dev_run, "payload": payload})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["details"]["fields"][0]["field"] == "payload.model"
    await _nothing_left(app)


async def test_the_mcp_tool_refuses_it_in_the_same_words(app: TransformApp) -> None:
    arguments = {"media": PHOTO, "scene_description": f"{DESCRIPTION} \x00"}
    message = {"name": "cinematic_switch", "arguments": arguments}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": message}
    async with httpx.AsyncClient(base_url=app.base_url, timeout=60) as http:
        response = await http.post("/mcp/", content=json.dumps(body), headers=MCP_HEADERS)
    data = next(line for line in response.text.splitlines() if line.startswith("data:"))
    result = json.loads(data[len("data:") :])["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    error = json.loads(text[text.index("{") :])["error"]
    assert (error["code"], error["message"]) == ("INVALID_INPUT", TEXT_MESSAGE)
    assert error["details"]["field"] == "scene_description"
    await _nothing_left(app)


async def test_a_refused_request_leaves_nothing_even_an_upload_it_asked_to_keep(
    app: TransformApp,
) -> None:
    refusals = [
        # A video sent as a photo, and a photo sent as a video: the task does not fit.
        ("IMAGE_GENERATION", {"image": VIDEO, "prompt": DESCRIPTION, "keep_upload": True}),
        ("VIDEO_GENERATION", {"video": PHOTO, "prompt": DESCRIPTION, "keep_upload": True}),
    ]
    for task, payload in refusals:
        body = {"provider": "DEFAULT", "task": task, "payload": payload}
        response = await _post(app, "/dev/run", body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["details"]["reason"] == "task_mismatch"
        await _nothing_left(app)


def test_base64_past_its_types_limit_is_refused_before_it_is_decoded() -> None:
    # A PNG's first bytes, then text that is not base64 at all: a size past the image limit
    # is known from the length alone, and the rest is never decoded.
    head = base64.b64encode(PNG_HEADER + bytes(300)).decode()
    text = head + "!" * ((IMAGE_LIMIT + 1) * 4 // 3)
    with pytest.raises(InvalidInput) as refused:
        decode_base64_media(text, TransformSettings())
    assert refused.value.message == MEDIA_MESSAGE
    assert refused.value.details["reason"] == "too_large"
    assert (refused.value.details["kind"], refused.value.details["max_bytes"]) == (
        "image",
        IMAGE_LIMIT,
    )
