"""A segments request refused for one of its frames leaves nothing it brought in.

Frames arrive as our own store's addresses (used as they are), ``data:`` URIs and URLs (both
ingested). When one is refused (a video where an image must be, an address safe ingest may not
fetch), every asset the request ingested goes again, the refused one included: no row, no file
in the store, no scratch file; the frame that was already ours stays. On SQLite and PostgreSQL,
over real HTTP with the engine running.
"""

from __future__ import annotations

import base64
import io
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
from PIL import Image

from fixtures import database as database_fixtures
from reelforge.services import Services
from segments.segments_support import frame_images, request_body, segments_harness

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url


def _data_uri(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64," + base64.b64encode(data).decode()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 80, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _tiny_mp4() -> bytes:
    """Two 16x16 frames of H.264: a video small enough for a frame's ``image_url``."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 4)
        for shade in (0, 120):
            picture = np.full((16, 16, 3), shade, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return buffer.getvalue()


async def _kept(services: Services) -> tuple[set[str], set[Path], set[Path]]:
    """The asset ids, the store's files and the scratch files, as they are now."""
    settings = services.settings
    assets = {asset.id for asset in await services.catalog.assets.list(limit=100)}
    stored = {p for p in settings.media_root.rglob("*") if p.is_file()}
    scratch = {p for p in settings.ingest_temp_dir.rglob("*") if p.is_file()}
    return assets, stored, scratch


async def test_a_refused_frame_leaves_nothing_the_request_brought(
    tmp_path: Path, database_url: str
) -> None:
    async with (
        segments_harness(tmp_path, webhooks=False, database_url=database_url) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http,
    ):
        services = harness.services
        (own,) = await frame_images(services, 1)
        before = await _kept(services)
        picture, video = _data_uri(_png(), "image/png"), _data_uri(_tiny_mp4(), "video/mp4")
        with_video = request_body([(1, 1), (1, 2), (2, 1)], [own, picture, video])
        refused_video = await http.post("/v1/segments", json=with_video)
        after_video = await _kept(services)
        private = "http://10.1.2.3/frame.png"
        with_private = request_body([(1, 1), (1, 2), (2, 1)], [own, picture, private])
        refused_private = await http.post("/v1/segments", json=with_private)
        after_private = await _kept(services)

    assert refused_video.status_code == 415, refused_video.text
    error = refused_video.json()["error"]
    assert (error["code"], error["details"]["frame_id"]) == (
        "UNSUPPORTED_MEDIA_TYPE",
        "SCENE_2_SHOT_1",
    )
    assert after_video == before
    assert refused_private.status_code == 400, refused_private.text
    error = refused_private.json()["error"]
    assert (error["code"], error["details"]["frame_id"]) == ("URL_NOT_ALLOWED", "SCENE_2_SHOT_1")
    assert after_private == before
