"""``reelforge demo``: the bundled sample storyboard, end to end, offline by default.

The sample (8 frames, 3 scenes, 2 characters) goes through the real pipeline: the keyframes
feature renders every frame through the job engine (the local studio unless ``--provider``
names another), then the motion-segments feature turns the key frames into short clips, and
the run's segments are assembled into one preview. It prints a summary, the files, and the
page to open.
"""

from __future__ import annotations

import asyncio
import json
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from reelforge.cli.common import console, fail_on_error, follow_run, load_settings
from reelforge.cli.demo_segments import SegmentsOutcome, make_segments
from reelforge.errors import InvalidInput
from reelforge.features.keyframes.schemas import (
    KeyframesPending,
    KeyframesRequest,
    KeyframesResponse,
    RenderSettings,
    parse_storyboard,
)
from reelforge.log import configure_logging
from reelforge.services import open_services
from reelforge.settings import Settings

__all__ = ["demo", "load_sample_storyboard"]

_WAIT_S = 900.0


def load_sample_storyboard() -> dict[str, Any]:
    text = resources.files("reelforge.samples").joinpath("storyboard.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def demo(
    provider: Annotated[
        str | None, typer.Option(help="Provider id (default: settings.default_provider)")
    ] = None,
    serve: Annotated[
        bool, typer.Option(help="Then serve the API on loopback, auth off, to browse the results")
    ] = False,
) -> None:
    """Render the bundled sample storyboard into key frames and clips, and print what was made."""
    settings = load_settings()
    if "log_level" not in settings.model_fields_set:
        configure_logging("warning", json=settings.log_json)
    with fail_on_error():
        started = time.perf_counter()
        title, request = parse_storyboard(load_sample_storyboard())
        if provider is not None:
            request = _with_provider(request, provider)
        keyframes, segments = asyncio.run(_run(settings, request))
        elapsed = time.perf_counter() - started
    _print_summary(title or "Sample storyboard", keyframes, segments, settings, elapsed)
    if serve:
        from reelforge.cli.server import run_server

        # The demo is the one place auth is turned off, explicitly, and only on loopback.
        local = settings.model_copy(
            update={
                "auth": settings.auth.model_copy(update={"enabled": False}),
                "server": settings.server.model_copy(update={"host": "127.0.0.1"}),
            }
        )
        console.print(f"Serving on http://127.0.0.1:{local.server.port} (Ctrl-C to stop).")
        with fail_on_error():
            asyncio.run(run_server(local))


async def _run(
    settings: Settings, request: KeyframesRequest
) -> tuple[KeyframesResponse, SegmentsOutcome | None]:
    async with open_services(settings, engine="api") as services:
        keyframes = services.keyframes
        run_id = await keyframes.start(request)
        assert services.engine is not None
        await follow_run(
            services.engine, run_id, "key frames", len(request.storyboard_frames), _WAIT_S
        )
        response = await keyframes.result(run_id, wait_s=_WAIT_S)
        if isinstance(response, KeyframesPending):
            raise InvalidInput(f"The key frames are still rendering (run {run_id}).")
        segments = await make_segments(services, request, response)
        return response, segments


def _with_provider(request: KeyframesRequest, provider: str) -> KeyframesRequest:
    current = request.render_settings or RenderSettings()
    # A hosted model id belongs to its provider: let the new provider pick its own default.
    settings = current.model_copy(update={"provider": provider, "model": None})
    return request.model_copy(update={"render_settings": settings})


def _local_path(url: str, settings: Settings) -> str:
    base = settings.public_base_url + "/"
    if settings.store.kind == "local" and url.startswith(base):
        return str(Path(settings.media_root) / url[len(base) :])
    return url


def _print_summary(
    title: str,
    keyframes: KeyframesResponse,
    segments: SegmentsOutcome | None,
    settings: Settings,
    elapsed: float,
) -> None:
    table = Table(title=title)
    for column in ("frame", "model", "seed", "retries", "made in", "status"):
        table.add_column(column, no_wrap=True)
    for frame in keyframes.generated_frames:
        meta = frame.provider_metadata
        made_in = f"{meta.inference_time_ms} ms" if meta.inference_time_ms is not None else "-"
        table.add_row(
            frame.frame_id, meta.model, str(meta.seed), str(meta.retry_count), made_in, "ok"
        )
    for failed in keyframes.failed_frames:
        table.add_row(failed.frame_id, "-", "-", "-", "-", f"failed: {failed.error}")
    console.print(table)
    if segments is not None:
        segments.print_summary(console)
    console.print(
        f"{len(keyframes.generated_frames)} key frames"
        + (f", {segments.count} segments" if segments is not None else "")
        + f" in {elapsed:.1f} s. Files:"
    )
    for frame in keyframes.generated_frames:
        console.print(
            f"  {frame.frame_id:<16} {_local_path(frame.image_url, settings)}", soft_wrap=True
        )
    if segments is not None:
        for label, url in segments.files():
            console.print(f"  {label:<16} {_local_path(url, settings)}", soft_wrap=True)
    page = f"http://127.0.0.1:{settings.server.port}/runs/{keyframes.run_id}"
    console.print(
        f"To see the run page, run [bold]scripts/demo --serve[/bold] (reelforge demo --serve) "
        f"and open {page}",
        soft_wrap=True,
    )
