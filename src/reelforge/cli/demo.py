"""``reelforge demo``: the bundled sample storyboard, rendered offline, end to end.

Every frame becomes a previz still and every scene an animatic clip, made by the default
provider through the same provider contract hosted adapters use, then ingested into the media
store and the catalog. It prints a summary table, the files and the URLs to open.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

import typer
from rich.table import Table

from reelforge.catalog.records import AssetRecord
from reelforge.cli.common import console, fail_on_error, load_settings
from reelforge.log import configure_logging
from reelforge.providers.base import (
    TERMINAL_STATES,
    Capability,
    GenerationRequest,
    InputImage,
    Provider,
)
from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.previz import resolve_size
from reelforge.services import Services, open_services

__all__ = ["demo", "load_sample_storyboard"]

_POLL_S = 0.05


@dataclass(frozen=True)
class DemoResult:
    label: str
    kind: str
    record: AssetRecord
    seconds: float
    model: str


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
    """Render the bundled sample storyboard offline and print what was made."""
    settings = load_settings()
    if "log_level" not in settings.model_fields_set:
        configure_logging("warning", json=settings.log_json)
    with fail_on_error():
        started = time.perf_counter()
        results = asyncio.run(_run(settings_provider=provider, settings=settings))
        elapsed = time.perf_counter() - started
    _print_summary(
        results,
        elapsed,
        settings.media_root if settings.store.kind == "local" else None,
        settings.public_base_url,
    )
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


async def _run(*, settings_provider: str | None, settings: Any) -> list[DemoResult]:
    storyboard = load_sample_storyboard()
    async with open_services(settings) as services:
        provider = services.providers.get(settings_provider)
        console.print(f"Rendering [bold]{storyboard['title']}[/bold] with {provider.display_name}")
        frames = [
            _brief(frame, storyboard["character_profiles"])
            for frame in storyboard["storyboard_frames"]
        ]
        seed = int(storyboard["render_settings"].get("seed", 0))
        width, height = resolve_size(storyboard["render_settings"].get("aspect_ratio", "16:9"))
        limit = asyncio.Semaphore(2)

        async def still(index: int, brief: SceneBrief) -> DemoResult:
            async with limit:
                request = GenerationRequest(
                    capability=Capability.TEXT_TO_IMAGE,
                    prompt=brief.description,
                    width=width,
                    height=height,
                    seed=seed + index,
                    scene=brief,
                )
                return await _generate(services, provider, request, brief.frame_id, "still")

        stills = await asyncio.gather(*(still(i, b) for i, b in enumerate(frames)))
        clips = []
        for scene, members in _scenes(frames, stills).items():
            first, last = members[0], members[-1]
            images = [first[1], last[1]] if len(members) > 1 else [first[1]]
            request = GenerationRequest(
                capability=Capability.IMAGE_TO_VIDEO,
                prompt=first[0].description,
                width=width,
                height=height,
                duration_s=sum(
                    float(f.get("duration_seconds", 3.0))
                    for f in storyboard["storyboard_frames"]
                    if f["frame_id"] in {m[0].frame_id for m in members}
                ),
                camera_notes=first[0].camera_notes,
                images=tuple(
                    [
                        InputImage(
                            content_type="image/png",
                            data=await services.store.get_bytes(r.record.key),
                        )
                        for r in images
                    ]
                ),
            )
            clips.append(await _generate(services, provider, request, f"SCENE_{scene}", "clip"))
        return [*stills, *clips]


async def _generate(
    services: Services, provider: Provider, request: GenerationRequest, label: str, kind: str
) -> DemoResult:
    started = time.perf_counter()
    handle = await provider.submit(request)
    # Polling is the provider contract's way to learn a job's state; there is no event to await.
    while not isinstance(await provider.status(handle), TERMINAL_STATES):  # noqa: ASYNC110
        await asyncio.sleep(_POLL_S)
    result = await provider.result(handle)
    output = result.outputs[0]
    if output.data is not None:
        record = await services.assets.ingest_bytes(output.data)
    else:
        assert output.url is not None
        record = await services.assets.ingest_url(output.url, from_provider=True)
    return DemoResult(label, kind, record, time.perf_counter() - started, result.metadata.model)


def _brief(frame: dict[str, Any], profiles: list[dict[str, str]]) -> SceneBrief:
    text = frame["description"].lower()
    present = tuple(
        CharacterBrief(p["name"], p.get("visual_signature", ""))
        for p in profiles
        if re.search(rf"\b{re.escape(p['name'].lower())}\b", text)
    )
    return SceneBrief(
        frame_id=frame["frame_id"],
        description=frame["description"],
        camera_notes=frame.get("camera_notes", ""),
        lighting_mood=frame.get("lighting_mood", ""),
        prompt_seed=frame.get("prompt_seed", ""),
        characters=present,
    )


def _scenes(
    frames: list[SceneBrief], stills: list[DemoResult]
) -> dict[str, list[tuple[SceneBrief, DemoResult]]]:
    scenes: dict[str, list[tuple[SceneBrief, DemoResult]]] = {}
    for brief, result in zip(frames, stills, strict=True):
        match = re.match(r"SCENE_(\d+)", brief.frame_id)
        scenes.setdefault(match.group(1) if match else brief.frame_id, []).append((brief, result))
    return scenes


def _print_summary(
    results: list[DemoResult], elapsed: float, media_root: Any, public_base: str
) -> None:
    models = ", ".join(sorted({r.model for r in results}))
    table = Table(title=f"The Lighthouse Keeper's Letter ({models})")
    for column in ("item", "kind", "size", "length", "made in", "asset id"):
        table.add_column(column, no_wrap=True)
    for r in results:
        size = f"{r.record.width}x{r.record.height}" if r.record.width else "-"
        length = f"{r.record.duration_s:.2f} s" if r.record.duration_s else "-"
        table.add_row(r.label, r.kind, size, length, f"{r.seconds:.2f} s", r.record.id[:12])
    console.print(table)
    console.print(f"{len(results)} assets in {elapsed:.1f} s. Files:")
    for r in results:
        where = f"{media_root}/{r.record.key}" if media_root is not None else r.record.key
        console.print(f"  {r.label:<15} {where}", soft_wrap=True)
    console.print(
        f"Public URLs start with {public_base}/ ; run [bold]reelforge demo --serve"
        "[/bold] to browse them (the asset list is at /v1/assets)."
    )
