from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fixtures.s3 import S3Bucket
from media.media_support import PUBLIC_BASE, stored_files
from reelforge.errors import (
    InvalidInput,
    MediaTooLarge,
    MissingCredential,
    NotFound,
    ReelforgeError,
    StorageError,
)
from reelforge.media.store import MediaStore, ObjectMediaStore, build_media_store
from reelforge.settings import S3Settings, Settings

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStore:
    if request.param == "local":
        return ObjectMediaStore.local(tmp_path / "media", public_base_url=PUBLIC_BASE)
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return ObjectMediaStore.s3(bucket.s3_settings, public_base_url=PUBLIC_BASE)


async def chunks(total: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield bytes((sent + i) % 251 for i in range(piece)) if piece < 64 else os.urandom(piece)
        sent += piece


async def test_round_trip_of_small_objects(store: MediaStore) -> None:
    await store.put_bytes("a/b/hello.txt", b"hello", content_type="text/plain")
    assert await store.exists("a/b/hello.txt")
    assert await store.get_bytes("a/b/hello.txt") == b"hello"
    info = await store.head("a/b/hello.txt")
    assert (info.key, info.size) == ("a/b/hello.txt", 5)
    assert await store.size("a/b/hello.txt") == 5
    assert store.public_url("a/b/hello.txt") == f"{PUBLIC_BASE}/a/b/hello.txt"

    await store.delete("a/b/hello.txt")
    await store.delete("a/b/hello.txt")  # idempotent
    assert not await store.exists("a/b/hello.txt")


async def test_streams_a_multipart_object_both_ways(store: MediaStore, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    with source.open("wb") as out:
        async for chunk in chunks(12 * MiB + 123):
            out.write(chunk)

    async def from_file() -> AsyncIterator[bytes]:
        with source.open("rb") as f:
            while piece := f.read(MiB):
                yield piece

    await store.put_stream("big/streamed.bin", from_file(), content_type="video/mp4")
    await store.put_file("big/from-path.bin", source, content_type="video/mp4")
    expected = source.read_bytes()
    for key in ("big/streamed.bin", "big/from-path.bin"):
        assert await store.size(key) == len(expected)
        pieces = [piece async for piece in store.get_stream(key)]
        assert len(pieces) > 1  # it really streams
        assert b"".join(pieces) == expected
    with pytest.raises(MediaTooLarge):
        await store.get_bytes("big/from-path.bin", max_bytes=MiB)


async def test_ranged_reads_fetch_only_the_range(store: MediaStore) -> None:
    data = os.urandom(3 * MiB + 17)
    await store.put_bytes("ranged/blob.bin", data)

    async def read(**span: int) -> bytes:
        return b"".join([piece async for piece in store.get_stream("ranged/blob.bin", **span)])

    assert await read(start=MiB + 5, length=1000) == data[MiB + 5 : MiB + 1005]
    assert await read(start=3 * MiB) == data[3 * MiB :]
    assert await read(length=10) == data[:10]
    assert await read(start=7, length=0) == b""
    assert await read() == data
    with pytest.raises(ValueError, match="negative"):
        await read(start=-1)


async def test_missing_objects(store: MediaStore) -> None:
    assert not await store.exists("nothing/here.png")
    with pytest.raises(NotFound):
        await store.head("nothing/here.png")
    with pytest.raises(NotFound):
        await store.get_bytes("nothing/here.png")
    with pytest.raises(NotFound):
        async for _ in store.get_stream("nothing/here.png"):
            pass


@pytest.mark.parametrize("key", ["../escape.png", "/abs.png", "a//b.png", "a b.png"])
async def test_unsafe_keys_never_reach_the_backend(store: MediaStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        await store.put_bytes(key, b"x")
    with pytest.raises(InvalidInput):
        await store.exists(key)
    with pytest.raises(InvalidInput):
        store.public_url(key)


async def test_a_failing_source_leaves_no_object(store: MediaStore, tmp_path: Path) -> None:
    class SourceBroke(ReelforgeError):
        pass

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(6 * MiB)
        raise SourceBroke("the client went away")

    with pytest.raises(SourceBroke):
        await store.put_stream("broken/upload.bin", broken())
    assert not await store.exists("broken/upload.bin")


async def test_local_store_keeps_files_under_its_root(tmp_path: Path) -> None:
    store = ObjectMediaStore.local(tmp_path / "media", public_base_url=PUBLIC_BASE + "/")
    await store.put_bytes("x/y.png", b"png")
    assert stored_files(tmp_path / "media") == ["x/y.png"]
    assert store.public_url("x/y.png") == f"{PUBLIC_BASE}/x/y.png"
    await store.delete("x/y.png")
    assert stored_files(tmp_path / "media") == []


async def test_s3_upload_leaves_no_pending_multipart(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    store = ObjectMediaStore.s3(s3_bucket.s3_settings, public_base_url=PUBLIC_BASE)
    await store.put_stream("v/clip.mp4", chunks(11 * MiB), content_type="video/mp4")
    assert s3_bucket.keys() == ["v/clip.mp4"]
    assert s3_bucket.pending_uploads() == []
    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="v/clip.mp4")
    assert head["ContentType"] == "video/mp4"


def test_build_media_store_local(settings: Settings) -> None:
    store = build_media_store(settings)
    assert isinstance(store, ObjectMediaStore)
    assert store.public_url("a.png") == "http://127.0.0.1:8000/media/a.png"


async def test_build_media_store_s3(s3_bucket: S3Bucket) -> None:
    store = build_media_store(s3_bucket.settings)
    await store.put_bytes("k.txt", b"1")
    assert s3_bucket.keys() == ["k.txt"]
    assert store.public_url("k.txt") == "https://cdn.test/media/k.txt"


def test_s3_credentials_come_from_the_named_variables(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str
) -> None:
    s3 = S3Settings(
        endpoint=moto_endpoint,
        access_key_env="RF_KEY_ID",
        secret_key_env="RF_SECRET",
        allow_http=True,
    )
    with pytest.raises(MissingCredential) as caught:
        ObjectMediaStore.s3(s3, public_base_url=PUBLIC_BASE)
    assert caught.value.details["env_var"] == "RF_KEY_ID"
    monkeypatch.setenv("RF_KEY_ID", "id")
    with pytest.raises(MissingCredential) as caught:
        ObjectMediaStore.s3(s3, public_base_url=PUBLIC_BASE)
    assert caught.value.details["env_var"] == "RF_SECRET"
    monkeypatch.setenv("RF_SECRET", "very-secret-value")
    store = ObjectMediaStore.s3(s3, public_base_url=PUBLIC_BASE)
    assert "very-secret-value" not in repr(vars(store))


async def test_unreachable_bucket_is_a_storage_error(
    monkeypatch: pytest.MonkeyPatch, moto_endpoint: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    s3 = S3Settings(endpoint=moto_endpoint, bucket="rf-no-such-bucket", allow_http=True)
    store = ObjectMediaStore.s3(s3, public_base_url=PUBLIC_BASE)
    with pytest.raises(StorageError):
        await store.put_bytes("a.txt", b"x")


async def test_s3_failing_source_aborts_its_multipart_upload(s3_bucket: S3Bucket) -> None:
    store = ObjectMediaStore.s3(s3_bucket.s3_settings, public_base_url=PUBLIC_BASE)

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield os.urandom(4 * MiB)
        raise MediaTooLarge("cap passed")

    with pytest.raises(MediaTooLarge):
        await store.put_stream("broken/clip.mp4", broken())
    assert s3_bucket.keys() == []
    assert s3_bucket.pending_uploads() == []
