"""Safe ingest refusals: each ends with the right error code, nothing stored, no temporary file.

A real loopback server, a real httpx client (recording what it sends), a real local store. The
loopback server is an internal address that only ``allowed_hosts`` opens, where a caller's URL
gets one answer for every failure (``test_internal_answers.py``); the precise errors are tested
here on provider outputs (``source="provider"``), which keep them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest

from media.media_support import (
    PUBLIC_BASE,
    MediaServer,
    SampleMedia,
    assert_refused,
    bomb_png,
    sent_urls,
    stored_files,
)
from reelforge.errors import StorageError
from reelforge.media.ingest import Ingestor
from reelforge.media.store import ObjectMediaStore
from reelforge.settings import IngestSettings

MiB = 1024 * 1024


# ----------------------------------------------------------------------------- refusals


async def test_cloud_metadata_address(
    ingestor: Ingestor, http_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await assert_refused(
        ingestor.ingest_url("http://169.254.169.254/latest/meta-data/iam/"),
        "URL_NOT_ALLOWED",
        tmp_path=tmp_path,
    )
    assert sent_urls(http_client) == []


async def test_loopback_not_allow_listed(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    spool_dir: Path,
    tmp_path: Path,
) -> None:
    url = media_server.add("/a.png", body=samples.png)
    ingestor = Ingestor(local_store, IngestSettings(), http_client, temp_dir=spool_dir)
    await assert_refused(ingestor.ingest_url(url), "URL_NOT_ALLOWED", tmp_path=tmp_path)
    assert media_server.requests == []
    assert sent_urls(http_client) == []


async def test_file_url(ingestor: Ingestor, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n")
    await assert_refused(ingestor.ingest_url(secret.as_uri()), "URL_NOT_ALLOWED", tmp_path=tmp_path)


async def test_redirect_to_a_private_address_is_refused_before_connecting(
    ingestor: Ingestor, http_client: httpx.AsyncClient, media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.add("/go", status=302, headers={"Location": "http://10.0.0.1/internal.png"})
    error = await assert_refused(
        ingestor.ingest_url(url, source="provider"), "URL_NOT_ALLOWED", tmp_path=tmp_path
    )
    assert error.details["address"] == "10.0.0.1"
    assert [path for path, _ in media_server.requests] == ["/go"]
    assert sent_urls(http_client) == [url]  # the private hop was never sent


async def test_redirect_to_a_name_resolving_privately_is_refused(
    local_store: ObjectMediaStore,
    ingest_settings: IngestSettings,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    spool_dir: Path,
    tmp_path: Path,
) -> None:
    async def dns(host: str, port: int) -> Sequence[str]:
        return {"innocent.test": ["192.168.0.10"]}[host]

    ingestor = Ingestor(local_store, ingest_settings, http_client, resolver=dns, temp_dir=spool_dir)
    url = media_server.add("/go", status=307, headers={"Location": "http://innocent.test/x.png"})
    await assert_refused(
        ingestor.ingest_url(url, source="provider"), "URL_NOT_ALLOWED", tmp_path=tmp_path
    )
    assert len(sent_urls(http_client)) == 1


async def test_body_over_the_cap_with_content_length(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    spool_dir: Path,
    tmp_path: Path,
) -> None:
    settings = IngestSettings(allowed_hosts=["127.0.0.1"], max_bytes=1 * MiB)
    ingestor = Ingestor(local_store, settings, http_client, temp_dir=spool_dir)
    url = media_server.add("/big.png", body=samples.png[:64] + bytes(2 * MiB))
    error = await assert_refused(
        ingestor.ingest_url(url, source="provider"), "MEDIA_TOO_LARGE", tmp_path=tmp_path
    )
    assert error.details["content_length"] == 2 * MiB + 64


async def test_body_over_the_cap_without_content_length(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    spool_dir: Path,
    tmp_path: Path,
) -> None:
    settings = IngestSettings(allowed_hosts=["127.0.0.1"], max_bytes=1 * MiB)
    ingestor = Ingestor(local_store, settings, http_client, temp_dir=spool_dir)
    url = media_server.add("/big.png", body=samples.png[:64] + bytes(3 * MiB), send_length=False)
    error = await assert_refused(
        ingestor.ingest_url(url, source="provider"), "MEDIA_TOO_LARGE", tmp_path=tmp_path
    )
    assert error.details == {"max_bytes": MiB}


async def test_upload_over_the_cap_stops_reading(
    local_store: ObjectMediaStore, http_client: httpx.AsyncClient, spool_dir: Path, tmp_path: Path
) -> None:
    settings = IngestSettings(max_bytes=1 * MiB)
    ingestor = Ingestor(local_store, settings, http_client, temp_dir=spool_dir)
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b"\x89PNG\r\n\x1a\n" + bytes(1000)
        while True:
            pulled += 1
            yield bytes(256 * 1024)

    await assert_refused(ingestor.ingest_stream(endless()), "MEDIA_TOO_LARGE", tmp_path=tmp_path)
    assert pulled <= 5


async def test_wrong_magic_bytes(
    ingestor: Ingestor, media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.add(
        "/photo.png", body=b"I am text, not a picture. " * 40, headers={"Content-Type": "image/png"}
    )
    await assert_refused(
        ingestor.ingest_url(url, source="provider"), "UNSUPPORTED_MEDIA_TYPE", tmp_path=tmp_path
    )
    await assert_refused(
        ingestor.ingest_bytes(b"tiny"), "UNSUPPORTED_MEDIA_TYPE", tmp_path=tmp_path
    )


async def test_decompression_bomb(
    ingestor: Ingestor, media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.add("/bomb.png", body=bomb_png(50_000, 50_000))
    await assert_refused(
        ingestor.ingest_url(url, source="provider"), "MEDIA_TOO_LARGE", tmp_path=tmp_path
    )


async def test_truncated_mp4(
    ingestor: Ingestor, media_server: MediaServer, samples: SampleMedia, tmp_path: Path
) -> None:
    cut = samples.mp4[: len(samples.mp4) * 2 // 3]
    url = media_server.add("/clip.mp4", body=cut)
    await assert_refused(
        ingestor.ingest_url(url, source="provider"), "CORRUPT_MEDIA", tmp_path=tmp_path
    )
    cut_tail = samples.mp4_tail_moov[: len(samples.mp4_tail_moov) - 100]
    await assert_refused(ingestor.ingest_bytes(cut_tail), "CORRUPT_MEDIA", tmp_path=tmp_path)


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (404, "FETCH_REJECTED", False),
        (403, "FETCH_REJECTED", False),
        (500, "FETCH_FAILED", True),
        (503, "FETCH_FAILED", True),
        (429, "FETCH_FAILED", True),
    ],
)
async def test_http_errors(
    ingestor: Ingestor,
    media_server: MediaServer,
    tmp_path: Path,
    status: int,
    code: str,
    retryable: bool,
) -> None:
    url = media_server.add("/x.png", status=status, body=b"nope", headers={"Retry-After": "7"})
    error = await assert_refused(
        ingestor.ingest_url(url, source="provider"), code, tmp_path=tmp_path
    )
    assert error.retryable is retryable
    assert error.details["status"] == status
    if retryable:
        assert error.retry_after == 7


async def test_connection_refused_is_retryable(
    ingestor: Ingestor, media_server: MediaServer, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await assert_refused(
        ingestor.ingest_url(f"http://127.0.0.1:{port}/x.png", source="provider"),
        "FETCH_FAILED",
        tmp_path=tmp_path,
    )
    assert error.retryable


async def test_read_timeout(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    spool_dir: Path,
    tmp_path: Path,
) -> None:
    settings = IngestSettings(allowed_hosts=["127.0.0.1"], read_timeout_s=0.2)
    ingestor = Ingestor(local_store, settings, http_client, temp_dir=spool_dir)
    url = media_server.add("/slow.png", body=samples.png, delay_s=1.0)
    error = await assert_refused(
        ingestor.ingest_url(url, source="provider"), "FETCH_FAILED", tmp_path=tmp_path
    )
    assert "timed out (read timeout)" in error.message


async def test_total_timeout(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    spool_dir: Path,
    tmp_path: Path,
) -> None:
    settings = IngestSettings(allowed_hosts=["127.0.0.1"], total_timeout_s=0.5, read_timeout_s=5)
    ingestor = Ingestor(local_store, settings, http_client, temp_dir=spool_dir)
    url = media_server.add("/trickle.png", body=samples.png, trickle_s=0.05)
    error = await assert_refused(
        ingestor.ingest_url(url, source="provider"), "FETCH_FAILED", tmp_path=tmp_path
    )
    assert "longer than 0.5 s" in error.message


async def test_too_many_redirects(
    ingestor: Ingestor, media_server: MediaServer, tmp_path: Path
) -> None:
    url = media_server.add("/loop", status=301, headers={"Location": "/loop"})
    await assert_refused(
        ingestor.ingest_url(url, source="provider"), "FETCH_REJECTED", tmp_path=tmp_path
    )
    assert len(media_server.requests) == 4  # the first request and max_redirects=3 hops


async def test_bad_base64(ingestor: Ingestor, tmp_path: Path) -> None:
    await assert_refused(
        ingestor.ingest_base64("!!not base64!!"), "INVALID_INPUT", tmp_path=tmp_path
    )
    await assert_refused(
        ingestor.ingest_base64("data:image/png,%89PNG"), "INVALID_INPUT", tmp_path=tmp_path
    )


async def test_a_key_whose_extension_contradicts_the_content(
    ingestor: Ingestor, samples: SampleMedia, tmp_path: Path
) -> None:
    await assert_refused(
        ingestor.ingest_bytes(samples.png, key="projects/p/e/segments/segment_1_1.mp4"),
        "UNSUPPORTED_MEDIA_TYPE",
        tmp_path=tmp_path,
    )
    await assert_refused(
        ingestor.ingest_bytes(samples.png, key="../x.png"), "INVALID_INPUT", tmp_path=tmp_path
    )


async def test_a_store_failure_after_the_object_removes_it(
    local_store: ObjectMediaStore,
    ingest_settings: IngestSettings,
    http_client: httpx.AsyncClient,
    samples: SampleMedia,
    spool_dir: Path,
    tmp_path: Path,
) -> None:
    class ThumbnailsFail(ObjectMediaStore):
        async def put_bytes(
            self, key: str, data: bytes, *, content_type: str | None = None
        ) -> None:
            raise StorageError("disk full")

    failing = ThumbnailsFail.local(tmp_path / "media", public_base_url=PUBLIC_BASE)
    ingestor = Ingestor(failing, ingest_settings, http_client, temp_dir=spool_dir)
    await assert_refused(ingestor.ingest_bytes(samples.png), "STORAGE_ERROR", tmp_path=tmp_path)


async def test_cancelled_download_leaves_nothing(
    ingestor: Ingestor, media_server: MediaServer, samples: SampleMedia, tmp_path: Path
) -> None:
    url = media_server.add("/trickle.mp4", body=samples.mp4 * 20, trickle_s=0.05)
    task = asyncio.create_task(ingestor.ingest_url(url))
    while not list((tmp_path / "spool").iterdir()):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stored_files(tmp_path / "media") == []
    assert list((tmp_path / "spool").iterdir()) == []
