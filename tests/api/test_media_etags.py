"""``/media/`` validators: the ETag is the content's sha256 (never inode or mtime), and
``If-None-Match`` answers 304. Real HTTP on loopback, a real local store and catalog."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.media.content_tags import ContentTags
from reelforge.services import Services, open_services


def png(width: int, height: int, colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def sha256_tag(data: bytes) -> str:
    return f'"{hashlib.sha256(data).hexdigest()}"'


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    async with (
        open_services(local_settings(tmp_path), environ={}) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url) as client,
    ):
        yield client, services


async def test_an_assets_etag_is_its_sha256_not_file_facts(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = api
    data = png(120, 80)
    created = (await client.post("/v1/assets/upload", content=data)).json()
    response = await client.get(f"/media/{created['key']}")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["etag"] == sha256_tag(data) == f'"{created["sha256"]}"'

    # The local folder's own tag would have been the file's inode and modification time.
    stat = os.stat(services.settings.media_root / created["key"])
    assert f"{stat.st_ino:x}" not in response.headers["etag"]
    assert f"{stat.st_mtime_ns // 1000:x}" not in response.headers["etag"]

    head = await client.head(f"/media/{created['key']}")
    assert head.headers["etag"] == sha256_tag(data)


async def test_a_thumbnail_and_other_objects_are_tagged_by_their_hash(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = api
    created = (await client.post("/v1/assets/upload", content=png(640, 480))).json()
    record = await services.catalog.assets.get(created["id"])
    assert record.thumbnail_key is not None
    thumbnail = await services.store.get_bytes(record.thumbnail_key)
    response = await client.get(f"/media/{record.thumbnail_key}")
    assert response.headers["etag"] == sha256_tag(thumbnail)

    first, second = png(10, 10, (1, 2, 3)), png(10, 10, (200, 2, 3))
    await services.store.put_bytes("loose/picture.png", first)
    assert (await client.get("/media/loose/picture.png")).headers["etag"] == sha256_tag(first)
    await services.store.put_bytes("loose/picture.png", second)  # replaced: a new tag
    assert (await client.get("/media/loose/picture.png")).headers["etag"] == sha256_tag(second)


async def test_if_none_match_answers_304(api: tuple[httpx.AsyncClient, Services]) -> None:
    client, _ = api
    data = png(64, 64)
    key = (await client.post("/v1/assets/upload", content=data)).json()["key"]
    url = f"/media/{key}"
    tag = sha256_tag(data)

    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        cached = await client.get(url, headers={"If-None-Match": header})
        assert (cached.status_code, cached.content) == (304, b""), header
        assert cached.headers["etag"] == tag
    head = await client.head(url, headers={"If-None-Match": tag})
    assert head.status_code == 304

    changed = await client.get(url, headers={"If-None-Match": '"something-else"'})
    assert (changed.status_code, changed.content) == (200, data)
    ranged = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": tag})
    assert (ranged.status_code, ranged.content) == (206, data[:10])


async def test_a_large_loose_object_gets_no_tag_rather_than_file_facts(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    _, services = api

    async def unknown(key: str, size: int) -> str | None:
        return None

    tags = ContentTags(services.store, unknown, max_hash_bytes=1000)
    await services.store.put_bytes("loose/small.bin", b"x" * 1000)
    await services.store.put_bytes("loose/large.bin", b"x" * 1001)
    small = await tags.etag(await services.store.head("loose/small.bin"))
    assert small == sha256_tag(b"x" * 1000)
    assert await tags.etag(await services.store.head("loose/large.bin")) is None
