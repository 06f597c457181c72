"""Every refusal of the spec, over real HTTP, with its code and message, and no provider call.

Hosted providers are configured (pointing at the emulator), so anything that slipped through
validation would show up in the emulator's ledger; each test ends by checking it is empty. The
size limits are proven on a raw socket: the client sends the file only up to the limit plus one
byte, never the rest of the body it announced, and still gets the answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import structlog

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer
from reelforge.features.transform.validation import FORMAT_MESSAGE, MEDIA_MESSAGE, TEXT_MESSAGE
from transform.transform_support import (
    DESCRIPTION,
    HOSTED_ENV,
    IMAGE_LIMIT,
    MP4_HEADER,
    PNG_HEADER,
    VIDEO_LIMIT,
    MiB,
    TransformApp,
    astronaut,
    encoded,
    form_bytes,
    multipart,
    no_face,
    padded,
    tiny_face,
    transform_app,
    transform_settings,
    two_people,
)

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

PHOTO = encoded(astronaut())


@pytest.fixture
async def app(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> AsyncIterator[TransformApp]:
    settings = transform_settings(tmp_path / "data", emulator_server.base_url)
    async with transform_app(settings, environ=HOSTED_ENV, engine=False) as served:
        yield served
    # Nothing reached a provider, and nothing uploaded was left behind.
    assert (await emulator.ledger())["calls"] == []


async def _form(app: TransformApp, fields: dict[str, str], data: bytes | None) -> httpx.Response:
    content_type, body = form_bytes(fields, data)
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(
            f"{app.base_url}/generate/cinematic",
            content=body,
            headers={"Content-Type": content_type},
        )


async def _dev_run(app: TransformApp, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(f"{app.base_url}/dev/run", json=body)


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    assert error["statusCode"] == status
    return error


async def _no_assets(app: TransformApp) -> None:
    assert await app.services.catalog.assets.list(limit=10) == []


# -- the media: type by content, size limits cut off while streaming ----------------------


async def test_the_type_is_judged_by_content_not_by_name(app: TransformApp) -> None:
    impostors = [
        (encoded(astronaut(), "GIF"), "photo.png"),
        (encoded(astronaut(), "WEBP"), "photo.jpg"),
        (b"GIF89a but really just text pretending " * 20, "photo.jpg"),
        (b"plain text in a file named like a photo " * 20, "photo.png"),
    ]
    async with httpx.AsyncClient(timeout=30) as http:
        for content, filename in impostors:
            form = multipart({"scene_description": DESCRIPTION}, filename=filename)
            response = await http.post(
                f"{app.base_url}/generate/cinematic",
                content=b"".join(form.body([content])),
                headers={"Content-Type": form.content_type},
            )
            error = _error(response, 400)
            assert (error["code"], error["message"]) == ("INVALID_INPUT", FORMAT_MESSAGE)
    await _no_assets(app)


async def _send_until_answered(
    base_url: str, head: bytes, body: Iterable[bytes], *, chunked: bool
) -> tuple[int, dict[str, Any]]:
    """Send ``head`` then ``body`` and read the answer *without* ending the request body."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head)
        for piece in body:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
        # A server that buffered the body would wait here for the rest, and never answer.
        async with asyncio.timeout(60):
            status_line = await reader.readline()
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            payload = await reader.readexactly(int(headers["content-length"]))
    finally:
        writer.close()
    return int(status_line.split()[1]), json.loads(payload)


def _request_head(base_url: str, content_type: str, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    host = urlsplit(base_url).netloc
    return (
        f"POST /generate/cinematic HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: {content_type}\r\n{framing}\r\n\r\n"
    ).encode()


async def test_an_image_of_16_mb_plus_one_byte_is_cut_off_while_it_streams(
    app: TransformApp,
) -> None:
    form = multipart({"scene_description": DESCRIPTION})
    # Announce a 20 MB file, send 16 MB + 1 byte of it, and wait for the answer.
    head = _request_head(app.base_url, form.content_type, form.length(IMAGE_LIMIT + 4 * MiB))
    with structlog.testing.capture_logs() as events:
        status, body = await _send_until_answered(
            app.base_url, head, [form.head, *padded(PNG_HEADER, IMAGE_LIMIT + 1)], chunked=False
        )
    assert status == 400
    error = body["error"]
    assert (error["code"], error["message"]) == ("INVALID_INPUT", MEDIA_MESSAGE)
    assert error["details"]["reason"] == "too_large"
    assert error["details"]["max_bytes"] == IMAGE_LIMIT
    refused = next(e for e in events if e["event"] == "transform.upload_refused")
    # The server read at most one network chunk past the limit.
    assert IMAGE_LIMIT < refused["media_bytes"] <= IMAGE_LIMIT + MiB
    await _no_assets(app)


async def test_a_video_of_100_mb_plus_one_byte_is_cut_off_while_it_streams(
    app: TransformApp,
) -> None:
    form = multipart({"scene_description": DESCRIPTION}, filename="clip.mp4", file_type="video/mp4")
    head = _request_head(app.base_url, form.content_type, None)
    with structlog.testing.capture_logs() as events:
        status, body = await _send_until_answered(
            app.base_url, head, [form.head, *padded(MP4_HEADER, VIDEO_LIMIT + 1)], chunked=True
        )
    assert status == 400
    error = body["error"]
    assert (error["code"], error["message"]) == ("INVALID_INPUT", MEDIA_MESSAGE)
    assert (error["details"]["kind"], error["details"]["max_bytes"]) == ("video", VIDEO_LIMIT)
    refused = next(e for e in events if e["event"] == "transform.upload_refused")
    assert VIDEO_LIMIT < refused["media_bytes"] <= VIDEO_LIMIT + MiB
    await _no_assets(app)


async def test_a_bad_description_sent_before_the_file_stops_the_upload_at_once(
    app: TransformApp,
) -> None:
    form = multipart({"scene_description": "too short"})
    head = _request_head(app.base_url, form.content_type, form.length(8 * MiB))
    # Only the form's text and the first megabyte of the file are ever sent.
    status, body = await _send_until_answered(
        app.base_url, head, [form.head, *padded(PNG_HEADER, MiB)], chunked=False
    )
    assert (status, body["error"]["message"]) == (400, TEXT_MESSAGE)


async def test_an_announced_body_too_large_for_any_file_is_refused_before_reading(
    app: TransformApp,
) -> None:
    form = multipart({"scene_description": DESCRIPTION}, filename="clip.mp4", file_type="video/mp4")
    head = _request_head(app.base_url, form.content_type, form.length(VIDEO_LIMIT + 2 * MiB))
    status, body = await _send_until_answered(app.base_url, head, [], chunked=False)
    assert (status, body["error"]["message"]) == (400, MEDIA_MESSAGE)


async def test_an_empty_or_broken_file_is_the_media_error(app: TransformApp) -> None:
    empty = _error(await _form(app, {"scene_description": DESCRIPTION}, b""), 400)
    assert (empty["message"], empty["details"]["reason"]) == (MEDIA_MESSAGE, "empty")
    broken = PNG_HEADER + bytes(300)  # a PNG signature over nothing decodable
    corrupt = _error(await _form(app, {"scene_description": DESCRIPTION}, broken), 400)
    assert (corrupt["message"], corrupt["details"]["reason"]) == (MEDIA_MESSAGE, "corrupt")
    await _no_assets(app)


# -- the text and the missing fields -------------------------------------------------------


async def test_descriptions_of_9_and_2001_characters(app: TransformApp) -> None:
    for length in (9, 2001):
        error = _error(await _form(app, {"scene_description": "d" * length}, PHOTO), 400)
        assert (error["code"], error["message"]) == ("INVALID_INPUT", TEXT_MESSAGE)
        assert error["details"]["length"] == length
    await _no_assets(app)


async def test_missing_fields_are_named(app: TransformApp) -> None:
    no_text = _error(await _form(app, {"style_preset": "noir"}, PHOTO), 400)
    assert no_text == {
        "code": "INVALID_INPUT",
        "message": "Missing required field: scene_description",
        "details": {
            "field": "scene_description",
            "reason": "Scene description is required and must be non-empty",
        },
        "statusCode": 400,
    }
    no_media = _error(await _form(app, {"scene_description": DESCRIPTION}, None), 400)
    assert no_media["message"] == "Missing required field: media"
    blank = _error(await _form(app, {"scene_description": "   "}, PHOTO), 400)
    assert blank["message"] == "Missing required field: scene_description"
    await _no_assets(app)


async def test_dev_run_refuses_in_the_same_words(app: TransformApp) -> None:
    photo = base64.b64encode(PHOTO).decode()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"task": "IMAGE_GENERATION", "payload": {}}, "Missing required field: provider"),
        (
            {"provider": "REPLICATE", "task": "IMAGE_GENERATION", "payload": {"prompt": "x" * 20}},
            "Missing required field: image",
        ),
        (
            {"provider": "REPLICATE", "task": "IMAGE_GENERATION", "payload": {"image": photo}},
            "Missing required field: scene_description",
        ),
        (
            {
                "provider": "REPLICATE",
                "task": "IMAGE_GENERATION",
                "payload": {"image": photo, "prompt": "too short"},
            },
            TEXT_MESSAGE,
        ),
        (
            {
                "provider": "REPLICATE",
                "task": "IMAGE_GENERATION",
                "payload": {"image": "not base64 at all!", "prompt": DESCRIPTION},
            },
            MEDIA_MESSAGE,
        ),
        (
            {
                "provider": "REPLICATE",
                "task": "IMAGE_GENERATION",
                "payload": {
                    "image": base64.b64encode(encoded(astronaut(), "GIF")).decode(),
                    "prompt": DESCRIPTION,
                },
            },
            FORMAT_MESSAGE,
        ),
    ]
    for body, message in cases:
        error = _error(await _dev_run(app, body), 400)
        assert (error["code"], error["message"]) == ("INVALID_INPUT", message)
    guarded = await _dev_run(
        app,
        {
            "provider": "REPLICATE",
            "task": "IMAGE_GENERATION",
            "payload": {"image": "http://10.1.2.3/photo.png", "prompt": DESCRIPTION},
        },
    )
    assert _error(guarded, 400)["code"] == "URL_NOT_ALLOWED"
    await _no_assets(app)


# -- the face check ------------------------------------------------------------------------


async def test_the_face_check_refuses_before_any_provider_call(app: TransformApp) -> None:
    for picture, code in [
        (no_face(), "NO_FACE_DETECTED"),
        (two_people(), "MULTIPLE_FACES_DETECTED"),
        (tiny_face(), "FACE_TOO_SMALL"),
    ]:
        error = _error(await _form(app, {"scene_description": DESCRIPTION}, encoded(picture)), 422)
        assert error["code"] == code
        assert error["details"]["field"] == "media"
    await _no_assets(app)
