"""An unexpected error over real HTTP: the envelope for the client, one log line for us, and
neither holds the request's body (its description, its photo) nor any local variable."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import Request

from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.log import configure_logging
from reelforge.services import open_services

DESCRIPTION = "A knight in a moonlit castle courtyard, holding a lantern, rain on the stones"
PHOTO = base64.b64encode(bytes(range(256)) * 40).decode()


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


async def _explode(request: Request) -> dict[str, str]:
    upload = await request.json()
    description = upload["scene_description"]
    raise LookupError(f"no style for a {len(description)}-character description")


async def test_an_unexpected_error_is_logged_once_without_the_body(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info")
    async with open_services(local_settings(tmp_path), environ={}) as services:
        app = create_app(services)
        app.add_api_route("/explode", _explode, methods=["POST"])
        async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
            body = {"scene_description": DESCRIPTION, "image": PHOTO}
            response = await client.post("/explode", json=body)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "knight" not in response.text
    out, err = capfd.readouterr()
    logged = out + err
    assert "api.unhandled_error" in logged
    assert "_explode" in logged
    assert "LookupError" in logged
    assert "knight" not in logged
    assert PHOTO[:40] not in logged
    assert logged.count("Traceback") == 1  # ours only: the server does not log it again
