"""Safe ingest, happy paths: a real loopback server (http and https), real stores (local, S3)."""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest

from fixtures.s3 import S3Bucket
from media.media_support import (
    PUBLIC_BASE,
    MediaServer,
    SampleMedia,
    make_server,
    self_signed_certificate,
    sent_urls,
    stored_files,
    thumbnail_of,
)
from reelforge.errors import ReelforgeError
from reelforge.media.ingest import Ingestor
from reelforge.media.store import ObjectMediaStore
from reelforge.settings import IngestSettings

MiB = 1024 * 1024


# ----------------------------------------------------------------------------- happy paths


async def test_png_from_a_loopback_server(
    ingestor: Ingestor,
    local_store: ObjectMediaStore,
    media_server: MediaServer,
    samples: SampleMedia,
    tmp_path: Path,
) -> None:
    url = media_server.add("/picture", body=samples.png, headers={"Content-Type": "text/plain"})
    media = await ingestor.ingest_url(url)

    assert (media.kind, media.content_type) == ("image", "image/png")
    assert (media.width, media.height) == (640, 480)
    assert media.size_bytes == len(samples.png)
    assert media.sha256 == hashlib.sha256(samples.png).hexdigest()
    assert media.key == f"assets/{media.asset_id}.png"
    assert media.thumbnail_key == f"thumbnails/{media.asset_id}.jpg"
    assert (media.source, media.source_url) == ("url", url)
    assert await local_store.get_bytes(media.key) == samples.png
    assert max((await thumbnail_of(local_store, media)).size) == 64
    assert stored_files(tmp_path / "media") == sorted([media.key, media.thumbnail_key])
    assert list((tmp_path / "spool").iterdir()) == []


async def test_mp4_from_a_loopback_server_through_redirects(
    ingestor: Ingestor,
    local_store: ObjectMediaStore,
    media_server: MediaServer,
    samples: SampleMedia,
) -> None:
    media_server.add("/clip.mp4", body=samples.mp4, send_length=False)
    url = media_server.add("/start", status=303, headers={"Location": "/clip.mp4"})
    media = await ingestor.ingest_url(
        url, key="projects/p1/e1/segments/segment_1_2.mp4", source="provider"
    )

    assert media.key == "projects/p1/e1/segments/segment_1_2.mp4"
    assert (media.kind, media.content_type, media.codec) == ("video", "video/mp4", "h264")
    assert (media.width, media.height, media.frame_count) == (160, 120, 48)
    assert media.fps == pytest.approx(24)
    assert media.duration_s == pytest.approx(2.0)
    assert media.source == "provider"
    poster = await thumbnail_of(local_store, media)
    assert poster.size == (64, 48)
    assert local_store.public_url(media.key) == f"{PUBLIC_BASE}/{media.key}"


async def test_allow_listed_name_connects_to_the_vetted_address(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    spool_dir: Path,
) -> None:
    asked: list[str] = []

    async def dns(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return ["127.0.0.1"]

    settings = IngestSettings(allowed_hosts=["assets.test"])
    ingestor = Ingestor(local_store, settings, http_client, resolver=dns, temp_dir=spool_dir)
    media_server.add("/a.png", body=samples.png)
    media = await ingestor.ingest_url(f"http://assets.test:{media_server.port}/a.png")
    assert media.content_type == "image/png"
    assert asked == ["assets.test"]
    assert media_server.requests == [("/a.png", f"assets.test:{media_server.port}")]
    assert sent_urls(http_client) == [f"http://127.0.0.1:{media_server.port}/a.png"]


@pytest.mark.parametrize("name", ["png", "rgba_png", "jpeg", "gif", "webp", "mp4", "mov", "webm"])
async def test_from_bytes(
    ingestor: Ingestor, local_store: ObjectMediaStore, samples: SampleMedia, name: str
) -> None:
    data: bytes = getattr(samples, name)
    media = await ingestor.ingest_bytes(data, asset_id=f"sample-{name}")
    assert media.asset_id == f"sample-{name}"
    assert (media.source, media.source_url) == ("upload", None)
    assert await local_store.get_bytes(media.key) == data
    await thumbnail_of(local_store, media)


async def test_from_an_upload_stream(
    ingestor: Ingestor, local_store: ObjectMediaStore, samples: SampleMedia
) -> None:
    async def upload() -> AsyncIterator[bytes]:
        for start in range(0, len(samples.mp4), 1000):
            yield samples.mp4[start : start + 1000]

    media = await ingestor.ingest_stream(upload())
    assert media.sha256 == hashlib.sha256(samples.mp4).hexdigest()
    assert await local_store.get_bytes(media.key) == samples.mp4


@pytest.mark.parametrize("form", ["bare", "data_uri", "urlsafe_unpadded", "wrapped"])
async def test_from_base64(
    ingestor: Ingestor, local_store: ObjectMediaStore, samples: SampleMedia, form: str
) -> None:
    text = SampleMedia.b64(samples.png)
    payload = {
        "bare": text,
        "data_uri": "data:application/octet-stream;base64," + text,
        "urlsafe_unpadded": base64.urlsafe_b64encode(samples.png).decode().rstrip("="),
        "wrapped": "\n".join(text[i : i + 76] for i in range(0, len(text), 76)),
    }[form]
    media = await ingestor.ingest_base64(payload)
    assert (media.source, media.content_type) == ("base64", "image/png")
    assert await local_store.get_bytes(media.key) == samples.png
    assert (await thumbnail_of(local_store, media)).size == (64, 48)


async def test_discard(ingestor: Ingestor, samples: SampleMedia, tmp_path: Path) -> None:
    media = await ingestor.ingest_bytes(samples.png)
    assert len(stored_files(tmp_path / "media")) == 2
    await ingestor.discard(media)
    await ingestor.discard(media)
    assert stored_files(tmp_path / "media") == []


# ----------------------------------------------------------------------------- S3


async def test_s3_ingest_and_refusal(
    s3_bucket: S3Bucket,
    ingest_settings: IngestSettings,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    spool_dir: Path,
) -> None:
    store = ObjectMediaStore.s3(s3_bucket.s3_settings, public_base_url=PUBLIC_BASE)
    ingestor = Ingestor(store, ingest_settings, http_client, temp_dir=spool_dir)

    url = media_server.add("/clip.mp4", body=samples.mp4)
    media = await ingestor.ingest_url(url)
    assert s3_bucket.keys() == sorted([media.key, media.thumbnail_key])
    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=media.key)
    assert head["ContentType"] == "video/mp4"
    assert await store.get_bytes(media.key) == samples.mp4
    await ingestor.discard(media)

    bad = media_server.add("/cut.mp4", body=samples.mp4[: len(samples.mp4) // 2])
    with pytest.raises(ReelforgeError) as caught:
        await ingestor.ingest_url(bad, source="provider")
    assert caught.value.code == "CORRUPT_MEDIA"
    assert s3_bucket.keys() == []
    assert s3_bucket.pending_uploads() == []
    assert list(spool_dir.iterdir()) == []


async def test_https_to_an_allow_listed_name_pins_the_address_and_verifies_the_name(
    local_store: ObjectMediaStore, samples: SampleMedia, spool_dir: Path, tmp_path: Path
) -> None:
    # The certificate names only assets.test: the connection goes to 127.0.0.1, and TLS
    # succeeds only because SNI and verification use the name (httpx's sni_hostname).
    cert, key = self_signed_certificate(tmp_path, "assets.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    state = MediaServer(host="127.0.0.1", port=0)
    httpd = make_server(state, server_tls)
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    client_tls = ssl.create_default_context(cafile=str(cert))

    async def dns(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    try:
        state.add("/a.png", body=samples.png)
        async with httpx.AsyncClient(verify=client_tls, trust_env=False) as client:
            settings = IngestSettings(allowed_hosts=["assets.test"])
            ingestor = Ingestor(local_store, settings, client, resolver=dns, temp_dir=spool_dir)
            media = await ingestor.ingest_url(f"https://assets.test:{state.port}/a.png")
            assert media.sha256 == hashlib.sha256(samples.png).hexdigest()
            assert state.requests == [("/a.png", f"assets.test:{state.port}")]

            # Without the name, the same server is refused: its certificate does not say 127.0.0.1.
            ip_only = Ingestor(
                local_store, IngestSettings(allowed_hosts=["127.0.0.1"]), client, temp_dir=spool_dir
            )
            with pytest.raises(ReelforgeError) as caught:
                await ip_only.ingest_url(f"https://127.0.0.1:{state.port}/a.png", source="provider")
            assert caught.value.code == "FETCH_FAILED"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
