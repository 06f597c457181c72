"""The published OpenAPI document itself (``/openapi.json`` over real HTTP): valid OpenAPI that
schemathesis loads, errors in the API's envelope and never FastAPI's 422, streams as
``text/event-stream``, and answers the document describes where the conformance run
(``test_openapi_conformance``) cannot reach them, such as a keyframes dry run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.core.result import Err
from schemathesis.specs.openapi.schemas import OpenApiSchema

from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.services import open_services

TOKEN = "document-token-91c2"
METHODS = ("get", "put", "post", "delete", "patch")
#: The operations that read media, and so may answer 422 (CORRUPT_MEDIA, NO_FACE_DETECTED,
#: content_rejected) in the API's envelope.
READS_MEDIA = {
    ("post", "/v1/assets"),
    ("post", "/v1/assets/upload"),
    ("post", "/generate/cinematic"),
    ("post", "/dev/run"),
}
STREAMS = {("get", "/v1/runs/{run_id}/stream"), ("get", "/api/media/sse")}
ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = local_settings(tmp_path, auth={"enabled": True, "tokens": [TOKEN]})
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as client,
    ):
        yield client


async def published(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): item[method]
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }


async def test_the_document_is_valid_openapi_that_schemathesis_loads(
    api: httpx.AsyncClient,
) -> None:
    document = await published(api)
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()
    loaded = list(schema.get_all_operations())
    assert loaded
    assert [result.err() for result in loaded if isinstance(result, Err)] == []


async def test_no_operation_promises_fastapis_422_and_every_error_is_the_envelope(
    api: httpx.AsyncClient,
) -> None:
    document = await published(api)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    promises_422 = set()
    for key, operation in operations(document).items():
        responses = operation["responses"]
        assert "400" in responses, key
        if "422" in responses:
            promises_422.add(key)
        for code, answer in responses.items():
            if int(code) >= 400:
                assert answer["content"] == {"application/json": {"schema": ENVELOPE}}, (key, code)
        assert ("401" in responses) == bool(operation.get("security")), key
    assert promises_422 == READS_MEDIA


async def test_event_streams_are_documented_as_text_event_stream(api: httpx.AsyncClient) -> None:
    found = operations(await published(api))
    for key in STREAMS:
        assert list(found[key]["responses"]["200"]["content"]) == ["text/event-stream"], key


async def test_a_keyframes_dry_run_answers_what_the_document_says(
    api: httpx.AsyncClient,
) -> None:
    schema = schemathesis.openapi.from_dict(await published(api))
    frames = [{"frame_id": f"F{i}", "description": f"Shot {i}: the harbour"} for i in range(6)]
    response = await api.post(
        "/v1/keyframes",
        json={"storyboard_frames": frames, "dry_run": True},
    )
    assert response.status_code == 200
    assert response.json()["dry_run"] is True
    assert "generated_frames" not in response.json()
    operation = schema["/v1/keyframes"]["POST"]
    assert isinstance(operation.schema, OpenApiSchema)
    operation.validate_response(response)
