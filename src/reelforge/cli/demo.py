"""``reelforge demo``: the bundled sample storyboard, end to end, offline by default.

The sample (8 frames, 3 scenes, 2 characters) goes through the real pipeline: the keyframes
feature renders every frame through the job engine (the local studio unless ``--provider``
names another), then the motion-segments feature turns the key frames into short clips (on the
same provider when it can make video from images), and the run's segments are assembled into
one preview. It prints who made what, writes the files under readable names with a contact
sheet and a poster, and with ``--serve`` serves the run's pages from this same process.

The demo runs its work itself, on PostgreSQL too (where ``reelforge serve`` leaves the work to
``reelforge worker`` processes), unless ``engine.api_executes`` is set to false: then it says at
once that a worker must be started.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reelforge.cli.common import console, err_console, fail_on_error, follow_run, load_settings
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from reelforge.cli.demo_files import DemoFiles
    from reelforge.cli.demo_segments import SegmentsOutcome
    from reelforge.engine.config import EngineSettings
    from reelforge.features.keyframes.schemas import KeyframesRequest, KeyframesResponse
    from reelforge.services import Services
    from reelforge.settings import Settings

__all__ = ["demo", "load_sample_storyboard"]

_WAIT_S = 900.0


def load_sample_storyboard() -> dict[str, Any]:
    text = resources.files("reelforge.samples").joinpath("storyboard.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def demo(
    provider: Annotated[
        str | None,
        typer.Option(
            help="Provider for every stage it can do (default: settings.default_provider)"
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(help="Then serve the run's pages from this process (auth off on loopback)"),
    ] = False,
    host: Annotated[
        str, typer.Option(help="With --serve: address to listen on; auth is off only on loopback")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="With --serve: port")] = 8000,
) -> None:
    """Render the bundled sample storyboard into key frames and clips, and print what was made."""
    import asyncio

    from reelforge.cli.demo_serve import serving_settings
    from reelforge.features.keyframes.schemas import parse_storyboard
    from reelforge.log import configure_logging

    settings = load_settings()
    if "log_level" not in settings.model_fields_set:
        configure_logging("warning", json=settings.log_json)
    with fail_on_error():
        if serve:
            settings = serving_settings(settings, host, port)
        settings = settings.model_copy(update={"engine": _demo_engine(settings.engine)})
        title, request = parse_storyboard(load_sample_storyboard())
        if provider is not None:
            request = _with_provider(request, provider)
        asyncio.run(_demo(settings, title or "Sample storyboard", request, provider, serve))


def _demo_engine(engine: EngineSettings) -> EngineSettings:
    """The demo runs its own work unless told not to (on PostgreSQL the default is a worker)."""
    if engine.api_executes is None:
        return engine.model_copy(update={"api_executes": True})
    return engine


async def _demo(
    settings: Settings, title: str, request: KeyframesRequest, provider: str | None, serve: bool
) -> None:
    from reelforge.cli.demo_files import write_demo_files
    from reelforge.cli.demo_serve import serve_demo
    from reelforge.services import open_services

    async with open_services(settings, engine="api") as services:
        if not services.engine.engine.executes:
            err_console.print(
                "engine.api_executes is false, so this process runs no work: start "
                "[bold]reelforge worker[/bold] with the same settings, or the demo waits.",
                soft_wrap=True,
            )
        started = time.perf_counter()
        keyframes, segments = await _render(services, request, provider)
        elapsed = time.perf_counter() - started
        files = await write_demo_files(services.store, settings, keyframes, segments)
        _print_summary(title, keyframes, segments, files, elapsed)
        if not serve:
            console.print(
                f"Its page: {settings.service_url}/runs/{keyframes.run_id} while "
                "[bold]reelforge serve[/bold] runs (sign in at /login with a token); "
                "[bold]scripts/demo --serve[/bold] renders again and serves that run, "
                "no sign-in on loopback.",
                soft_wrap=True,
            )
            return
        run_id = keyframes.run_id

        def announce(base_url: str) -> None:
            console.print(f"Serving on {base_url} (Ctrl-C to stop).", soft_wrap=True)
            if services.settings.auth.enabled:
                console.print(
                    f"Sign in at {base_url}/login with a token from REELFORGE_AUTH__TOKENS.",
                    soft_wrap=True,
                )
            else:
                console.print("Auth is off: the server listens on loopback only.")
            console.print(f"Run page: {base_url}/runs/{run_id}", soft_wrap=True)

        await serve_demo(services, announce)


async def _render(
    services: Services, request: KeyframesRequest, provider: str | None
) -> tuple[KeyframesResponse, SegmentsOutcome | None]:
    from reelforge.cli.demo_segments import make_segments
    from reelforge.features.keyframes.schemas import KeyframesPending
    from reelforge.providers.base import Capability

    keyframes = services.keyframes
    run_id = await keyframes.start(request)
    await follow_run(services.engine, run_id, "key frames", len(request.storyboard_frames), _WAIT_S)
    response = await keyframes.result(run_id, wait_s=_WAIT_S)
    if isinstance(response, KeyframesPending):
        raise InvalidInput(f"The key frames are still rendering (run {run_id}).")
    segments_provider = None
    if provider is not None:
        chosen = services.providers.resolve(provider)
        if Capability.IMAGE_TO_VIDEO in chosen.capabilities:
            segments_provider = chosen.id
        else:
            err_console.print(
                f"{chosen.id} cannot make video from images: the segments use "
                f"{services.providers.default_id}."
            )
    segments = await make_segments(services, request, response, provider=segments_provider)
    return response, segments


def _with_provider(request: KeyframesRequest, provider: str) -> KeyframesRequest:
    from reelforge.features.keyframes.schemas import RenderSettings

    current = request.render_settings or RenderSettings()
    # A hosted model id belongs to its provider: let the new provider pick its own default.
    settings = current.model_copy(update={"provider": provider, "model": None})
    return request.model_copy(update={"render_settings": settings})


def _print_summary(
    title: str,
    keyframes: KeyframesResponse,
    segments: SegmentsOutcome | None,
    files: DemoFiles,
    elapsed: float,
) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("frame", "provider", "model", "seed", "retries", "made in", "status"):
        table.add_column(column, no_wrap=True)
    for frame in keyframes.generated_frames:
        meta = frame.provider_metadata
        made_in = f"{meta.inference_time_ms} ms" if meta.inference_time_ms is not None else "-"
        table.add_row(
            frame.frame_id,
            meta.provider,
            meta.model,
            str(meta.seed),
            str(meta.retry_count),
            made_in,
            "ok",
        )
    for failed in keyframes.failed_frames:
        table.add_row(failed.frame_id, "-", "-", "-", "-", "-", f"failed: {failed.error}")
    console.print(table)
    if segments is not None:
        segments.print_summary(console)
    console.print(
        f"{len(keyframes.generated_frames)} key frames"
        + (f", {segments.count} segments" if segments is not None else "")
        + f" in {elapsed:.1f} s. Files in {files.folder}:",
        soft_wrap=True,
    )
    for path in (*files.frames, *files.segments, files.preview):
        if path is not None:
            console.print(f"  {path.relative_to(files.folder)}", soft_wrap=True, highlight=False)
    looks = [path for path in (files.contact_sheet, files.poster, files.preview) if path]
    if looks:
        console.print(f"Open: {' '.join(_shown(path) for path in looks)}", soft_wrap=True)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
