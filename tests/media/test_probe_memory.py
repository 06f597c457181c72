"""Probing in bounded memory, by behaviour: a small file declaring many pixels is probed (its
thumbnail right) or refused when its decode would pass ``ingest.probe_memory_mb``; probes wait
for the gate; thumbnails made strip by strip show the picture. Real files, decoded back; no
memory is measured here (``bench/probe_memory.py`` does that)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from media.media_support import assert_refused, png_bytes, thumbnail_of
from reelforge.media.ingest import Ingestor
from reelforge.media.probe_gate import ProbeGate
from reelforge.media.store import ObjectMediaStore
from reelforge.settings import IngestSettings

RED, WHITE = (220, 20, 20), (255, 255, 255)


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def half_and_half(mode: str, size: tuple[int, int]) -> Image.Image:
    """The left half red (or light, for grey modes), the right half transparent or black."""
    width, height = size
    if mode == "P":
        image = Image.new("P", size, 0)
        image.putpalette([*RED, 0, 0, 0] + [0] * 762)
        image.info["transparency"] = 1
        image.paste(1, (width // 2, 0, width, height))
        return image
    colours: dict[str, tuple[int | tuple[int, ...], int | tuple[int, ...]]] = {
        "RGBA": ((*RED, 255), (0, 0, 0, 0)),
        "LA": ((200, 255), (0, 0)),
        "RGB": (RED, (0, 0, 0)),
        "L": (200, 0),
        "I;16": (200 * 257, 0),
    }
    left, right = colours[mode]
    image = Image.new(mode, size, right)
    image.paste(left, (0, 0, width // 2, height))
    return image


def ingestor_with(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    spool_dir: Path,
    **settings: object,
) -> Ingestor:
    values: dict[str, object] = {"thumbnail_px": 64, **settings}
    return Ingestor(local_store, IngestSettings(**values), http_client, temp_dir=spool_dir)


async def test_a_62_kb_png_of_64_megapixels_gets_a_right_thumbnail(
    local_store: ObjectMediaStore, http_client: httpx.AsyncClient, spool_dir: Path
) -> None:
    picture = Image.new("L", (8000, 7999), 0)
    picture.paste(255, (4000, 0, 8000, 7999))
    data = encoded(picture, "PNG", compress_level=9)
    assert len(data) < 100_000
    ingestor = ingestor_with(local_store, http_client, spool_dir)
    media = await ingestor.ingest_bytes(data)
    assert (media.width, media.height) == (8000, 7999)
    thumbnail = await thumbnail_of(local_store, media)
    assert thumbnail.size == (64, 64)
    grey = thumbnail.convert("L")
    left, right = grey.getpixel((8, 32)), grey.getpixel((56, 32))
    assert isinstance(left, int)
    assert isinstance(right, int)
    assert left < 20
    assert right > 235


async def test_an_image_whose_decode_passes_the_budget_is_refused(
    local_store: ObjectMediaStore, http_client: httpx.AsyncClient, spool_dir: Path, tmp_path: Path
) -> None:
    data = encoded(Image.new("L", (8000, 7999), 0), "PNG")  # about 77 MB to decode
    ingestor = ingestor_with(local_store, http_client, spool_dir, probe_memory_mb=64)
    error = await assert_refused(ingestor.ingest_bytes(data), "MEDIA_TOO_LARGE", tmp_path=tmp_path)
    assert error.details["probe_memory_mb"] == 64
    assert error.details["decode_mb"] > 64
    assert "ingest.probe_memory_mb" in error.message


async def test_a_tiny_webp_declaring_64_megapixels_is_refused_by_default(
    local_store: ObjectMediaStore, http_client: httpx.AsyncClient, spool_dir: Path, tmp_path: Path
) -> None:
    # Pillow decodes WebP through libwebp's animation decoder: about 16 bytes a pixel, 1 GB
    # for this file of a few dozen bytes.
    data = encoded(Image.new("RGBA", (8000, 7999), (0, 0, 0, 0)), "WEBP", lossless=True, method=0)
    ingestor = ingestor_with(local_store, http_client, spool_dir)
    error = await assert_refused(ingestor.ingest_bytes(data), "MEDIA_TOO_LARGE", tmp_path=tmp_path)
    assert error.details["probe_memory_mb"] == 320


async def test_probes_wait_for_the_gate(
    local_store: ObjectMediaStore, http_client: httpx.AsyncClient, spool_dir: Path
) -> None:
    gate = ProbeGate(slots=1, memory_bytes=512 * 1024 * 1024)
    ingestor = Ingestor(
        local_store,
        IngestSettings(thumbnail_px=64),
        http_client,
        temp_dir=spool_dir,
        probe_gate=gate,
    )
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold_the_only_slot() -> None:
        async with gate.admit(1):
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold_the_only_slot())
    await held.wait()
    uploads = [asyncio.create_task(ingestor.ingest_bytes(png_bytes(64 + i, 48))) for i in range(3)]
    for _ in range(500):  # a bounded wait for the uploads to reach the gate, not a timing
        if gate.waiting == 3:
            break
        await asyncio.sleep(0.01)
    assert gate.waiting == 3
    assert not any(upload.done() for upload in uploads)

    most = 0

    async def watch() -> None:
        nonlocal most
        while not all(upload.done() for upload in uploads):
            most = max(most, gate.running)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    release.set()
    stored = await asyncio.gather(*uploads)
    await asyncio.gather(holder, watcher)
    assert [m.width for m in stored] == [64, 65, 66]
    assert most == 1


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "RGB", "L", "I;16"])
async def test_thumbnails_made_in_strips_show_the_picture(
    local_store: ObjectMediaStore, http_client: httpx.AsyncClient, spool_dir: Path, mode: str
) -> None:
    picture = half_and_half(mode, (2400, 1200))  # reduced by 18, in strips
    ingestor = ingestor_with(local_store, http_client, spool_dir)
    media = await ingestor.ingest_bytes(encoded(picture, "PNG"))
    thumbnail = (await thumbnail_of(local_store, media)).convert("RGB")
    assert thumbnail.size == (64, 32)
    left, right = thumbnail.getpixel((10, 16)), thumbnail.getpixel((54, 16))
    assert isinstance(left, tuple)
    assert isinstance(right, tuple)
    if mode in {"RGBA", "P", "RGB"}:
        assert left == pytest.approx(RED, abs=12)
    else:
        assert left == pytest.approx((200, 200, 200), abs=12)
    transparent = mode in {"RGBA", "P", "LA"}
    assert right == pytest.approx(WHITE if transparent else (0, 0, 0), abs=12)
