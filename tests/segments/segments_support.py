"""What the segments tests share: an engine with the API served on the port its public media
URLs name (so a segment's ``video_url`` is fetched from the served API itself), key frames
stored as assets, requests, and decoding a video fetched over HTTP."""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import httpx
import uvicorn
from PIL import Image

from fixtures.engine import FAL_ENV, EngineHarness, engine_settings
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.features.segments.config import SegmentSettings
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings

__all__ = [
    "PROJECT",
    "decoded_seconds",
    "fetch_video",
    "frame_images",
    "request_body",
    "segments_harness",
    "segments_settings",
]

PROJECT = {"project_id": "proj-1", "episode_id": "ep-1"}
_COLOURS = [(180, 60, 40), (40, 90, 170), (60, 150, 80), (200, 170, 50), (120, 60, 150)]


def segments_settings(
    data_dir: Path,
    port: int,
    *,
    emulator_url: str = "http://127.0.0.1:9",
    default_provider: str = "local",
    database_url: str | None = None,
    providers: dict[str, Any] | None = None,
    **segments: Any,
) -> Settings:
    """Engine settings over the emulator, with small segments and short waits by default
    (``providers``: more provider sections)."""
    base = engine_settings(data_dir, emulator_url, port=port, database_url=database_url)
    values: dict[str, Any] = {
        "width": 320,
        "height": 180,
        "poll_interval_s": 0.1,
        "wait_cap_s": 15.0,
        "response_grace_s": 5.0,
    }
    values.update(segments)
    local = {"local": {"max_width": 640, "max_height": 360, "fps": 12}}
    return base.model_copy(
        update={
            "segments": SegmentSettings(**values),
            "default_provider": default_provider,
            "providers": {**base.providers, **local, **(providers or {})},
        }
    )


@asynccontextmanager
async def segments_harness(
    tmp_path: Path,
    *,
    webhooks: bool = True,
    engine_overrides: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[EngineHarness]:
    """Migrated services, the API served on the port of the settings' public URLs, an engine
    of its own (webhooks to that API when asked; ``engine_overrides``: engine settings)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = segments_settings(tmp_path / "data", port, **overrides)
    base_url = f"http://127.0.0.1:{port}"
    engine = settings.engine.model_copy(update=engine_overrides or {})
    public_url = base_url if webhooks else None
    settings = settings.model_copy(update={"engine": engine, "public_url": public_url})
    await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ=FAL_ENV)
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
        yield EngineHarness(services, base_url)
    finally:
        await services.aclose()
        server.should_exit = True
        await task
        sock.close()


async def frame_images(
    services: Services, count: int, size: tuple[int, int] = (320, 180)
) -> list[str]:
    """``count`` distinct PNG key frames stored as assets; their public URLs."""
    urls = []
    for index in range(count):
        image = Image.new("RGB", size, _COLOURS[index % len(_COLOURS)])
        image.paste((255, 255, 255), (10 + 20 * index, 20, 60 + 20 * index, 70))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        record = await services.assets.ingest_bytes(buffer.getvalue(), source="upload")
        urls.append(services.store.public_url(record.key))
    return urls


def request_body(
    shots: list[tuple[int, int]],
    urls: list[str],
    *,
    provider: str | None = None,
    durations: list[float | None] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A spec request for frames at (scene, shot), the storyboard's words per frame."""
    generated, storyboard = [], []
    for index, (scene, shot) in enumerate(shots):
        frame_id = f"SCENE_{scene}_SHOT_{shot}"
        generated.append(
            {
                "frame_id": frame_id,
                "image_url": urls[index],
                "scene_number": scene,
                "shot_order": shot,
            }
        )
        frame: dict[str, Any] = {
            "frame_id": frame_id,
            "description": f"Mara crosses the harbour, shot {scene}.{shot}",
            "camera_notes": "slow push-in",
            "lighting_mood": "dawn, soft pink light",
            "prompt_seed": f"harbour-{scene}-{shot}",
        }
        if durations is not None and durations[index] is not None:
            frame["duration_seconds"] = durations[index]
        storyboard.append(frame)
    body: dict[str, Any] = {
        "generated_frames": generated,
        "storyboard_frames": storyboard,
        "project_context": dict(PROJECT),
        **extra,
    }
    if provider is not None:
        body["video_settings"] = {"provider_override": provider, "motion_strength": 0.5}
    return body


async def fetch_video(http: httpx.AsyncClient, url: str, folder: Path) -> Path:
    """The file at ``url`` (fetched over HTTP), saved into ``folder``."""
    response = await http.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.headers["content-type"].startswith("video/mp4")
    path = folder / f"{uuid.uuid4().hex}.mp4"
    path.write_bytes(response.content)
    return path


def decoded_seconds(path: Path) -> float:
    """The length of the video at ``path``, from its decoded frames (last frame's end)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 24)
        last = max(float(frame.time or 0.0) for frame in container.decode(stream))
    return last + 1 / rate
