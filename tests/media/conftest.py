"""Media test fixtures: real media, a real loopback HTTP server, real stores (local and moto S3)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.s3 import moto_endpoint, s3_bucket
from media.media_support import (
    PUBLIC_BASE,
    MediaServer,
    RecordingTransport,
    SampleMedia,
    image_bytes,
    make_server,
    png_bytes,
    video_bytes,
)
from reelforge.media.ingest import Ingestor
from reelforge.media.store import ObjectMediaStore
from reelforge.settings import IngestSettings

__all__ = [
    "http_client",
    "ingest_settings",
    "ingestor",
    "local_store",
    "media_server",
    "moto_endpoint",
    "s3_bucket",
    "samples",
    "spool_dir",
]


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> SampleMedia:
    """Real media files, made once per session."""
    folder = tmp_path_factory.mktemp("samples")
    return SampleMedia(
        png=png_bytes(640, 480),
        rgba_png=png_bytes(40, 30, mode="RGBA"),
        jpeg=image_bytes("JPEG", 800, 600),
        gif=image_bytes("GIF"),
        webp=image_bytes("WEBP"),
        mp4=video_bytes(folder / "a.mp4"),
        mp4_tail_moov=video_bytes(folder / "b.mp4", faststart=False),
        mov=video_bytes(folder / "c.mov", container="mov"),
        webm=video_bytes(folder / "d.webm", container="webm", codec="libvpx-vp9", frames=24),
    )


@pytest.fixture
def media_server() -> Iterator[MediaServer]:
    state = MediaServer(host="127.0.0.1", port=0)
    httpd = make_server(state)
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="media-server", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=RecordingTransport(), trust_env=False) as client:
        yield client


@pytest.fixture
def ingest_settings() -> IngestSettings:
    return IngestSettings(
        allowed_hosts=["127.0.0.1"],
        max_bytes=8 * 1024 * 1024,
        connect_timeout_s=2,
        read_timeout_s=2,
        total_timeout_s=10,
        max_redirects=3,
        thumbnail_px=64,
    )


@pytest.fixture
def local_store(tmp_path: Path) -> ObjectMediaStore:
    return ObjectMediaStore.local(tmp_path / "media", public_base_url=PUBLIC_BASE)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    return folder


@pytest.fixture
def ingestor(
    local_store: ObjectMediaStore,
    ingest_settings: IngestSettings,
    http_client: httpx.AsyncClient,
    spool_dir: Path,
) -> Ingestor:
    return Ingestor(local_store, ingest_settings, http_client, temp_dir=spool_dir)
