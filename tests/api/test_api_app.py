"""The API shell over real HTTP on loopback: health, auth, the error envelope, assets, media."""

from __future__ import annotations

import base64
import io
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge import __version__
from reelforge.api.app import create_app
from reelforge.errors import ConfigurationError
from reelforge.services import Services, open_services

TOKEN = "test-token-7f3a"


def png(width: int = 96, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    settings = local_settings(tmp_path, auth={"enabled": True, "tokens": [TOKEN]})
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        yield client, services


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


async def test_health_and_docs_need_no_token(api: tuple[httpx.AsyncClient, Services]) -> None:
    client, _ = api
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    openapi = await client.get("/openapi.json")
    assert openapi.status_code == 200
    assert "/v1/assets" in openapi.json()["paths"]


async def test_health_reports_the_release_in_pyproject(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = api
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    release = tomllib.loads(pyproject.read_text())["project"]["version"]
    health = await client.get("/healthz")
    assert health.json() == {"status": "ok", "version": release}
    assert __version__ == release  # what `reelforge version` prints


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong-token", "wrong-scheme"],
)
async def test_v1_routes_refuse_without_a_valid_token(
    api: tuple[httpx.AsyncClient, Services], headers: dict[str, str]
) -> None:
    client, _ = api
    response = await client.get("/v1/assets", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert body["error"]["statusCode"] == 401
    assert TOKEN not in response.text


def test_auth_on_without_tokens_is_a_configuration_error(tmp_path: Path) -> None:
    from reelforge.api.auth import BearerAuth

    settings = local_settings(tmp_path, auth={"enabled": True})
    with pytest.raises(ConfigurationError, match="REELFORGE_AUTH__TOKENS"):
        BearerAuth(settings.auth)


async def test_unknown_route_and_bad_body_use_the_envelope(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = api
    missing = await client.get("/v1/nothing-here", headers=auth())
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NOT_FOUND"

    unknown_field = await client.post(
        "/v1/assets", json={"url": "https://example.com/a.png", "colour": "red"}, headers=auth()
    )
    assert unknown_field.status_code == 400
    error = unknown_field.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert [p["field"] for p in error["details"]["fields"]] == ["colour"]

    neither = await client.post("/v1/assets", json={}, headers=auth())
    assert neither.status_code == 400
    assert neither.json()["error"]["code"] == "INVALID_INPUT"


async def test_base64_asset_round_trip_and_delete(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = api
    data = png()
    created = await client.post(
        "/v1/assets", json={"base64": base64.b64encode(data).decode()}, headers=auth()
    )
    assert created.status_code == 201, created.text
    asset = created.json()
    assert asset["kind"] == "image"
    assert (asset["width"], asset["height"]) == (96, 64)
    assert asset["source"] == "base64"

    shown = await client.get(f"/v1/assets/{asset['id']}", headers=auth())
    assert shown.json()["sha256"] == asset["sha256"]
    listed = await client.get("/v1/assets", headers=auth())
    assert [a["id"] for a in listed.json()["assets"]] == [asset["id"]]

    # The public URL is served without a token and gives back the same bytes.
    media = await client.get(f"/media/{asset['key']}")
    assert media.status_code == 200
    assert media.headers["content-type"] == "image/png"
    assert media.content == data
    thumb = await client.get(
        asset["thumbnail_url"].replace(services.settings.public_base_url, "/media")
    )
    assert thumb.status_code == 200
    with Image.open(io.BytesIO(thumb.content)) as thumbnail:
        assert thumbnail.format == "JPEG"

    deleted = await client.delete(f"/v1/assets/{asset['id']}", headers=auth())
    assert deleted.status_code == 204
    gone = await client.get(f"/v1/assets/{asset['id']}", headers=auth())
    assert gone.status_code == 404
    assert not await services.store.exists(asset["key"])
    assert (await client.get(f"/media/{asset['key']}")).status_code == 404


async def test_raw_upload_is_sniffed_by_content(api: tuple[httpx.AsyncClient, Services]) -> None:
    client, services = api
    ok = await client.post("/v1/assets/upload", content=png(40, 30), headers=auth())
    assert ok.status_code == 201
    assert ok.json()["content_type"] == "image/png"

    refused = await client.post(
        "/v1/assets/upload",
        content=b"this is plain text pretending to be a picture",
        headers={**auth(), "Content-Type": "image/png"},
    )
    assert refused.status_code == 415
    assert refused.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert len(await services.catalog.assets.list()) == 1


async def test_media_route_refuses_path_tricks(api: tuple[httpx.AsyncClient, Services]) -> None:
    client, _ = api
    response = await client.get("/media/assets/..%2F..%2Fetc%2Fpasswd")
    assert response.status_code in (400, 404)
    assert response.json()["success"] is False


async def test_media_route_serves_single_byte_ranges(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, _ = api
    data = png(320, 240)
    created = await client.post("/v1/assets/upload", content=data, headers=auth())
    url = f"/media/{created.json()['key']}"
    size = len(data)

    whole = await client.get(url)
    assert whole.headers["accept-ranges"] == "bytes"
    etag = whole.headers["etag"]

    middle = await client.get(url, headers={"Range": "bytes=10-99"})
    assert middle.status_code == 206
    assert middle.headers["content-range"] == f"bytes 10-99/{size}"
    assert middle.content == data[10:100]
    tail = await client.get(url, headers={"Range": "bytes=-50"})
    assert (tail.status_code, tail.content) == (206, data[-50:])
    rest = await client.get(url, headers={"Range": "bytes=100-", "If-Range": etag})
    assert (rest.status_code, rest.content) == (206, data[100:])

    stale = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert (stale.status_code, stale.content) == (200, data)
    several = await client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert (several.status_code, several.content) == (200, data)

    past = await client.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    assert past.json()["error"]["code"] == "RANGE_NOT_SATISFIABLE"

    head = await client.head(url, headers={"Range": "bytes=0-9"})
    assert (head.status_code, head.headers["content-length"], head.content) == (206, "10", b"")
