"""``reelforge segments request.json`` and ``reelforge assemble RUN``.

``segments`` sends the segments spec's request (the same JSON as ``POST /v1/segments``) through
an engine in this process (so not next to a running ``reelforge serve`` in embedded mode) and
prints the segments, or with ``--json`` the spec's response. Segments still generating after
the wait cap are listed as ``provider_pending``: their jobs resume with the next engine that
starts on this data directory (``reelforge serve`` or ``worker``), which finishes the run
(segments stored, response recorded); ``GET /v1/segments/{run}`` shows them once done.
``--dry-run`` prints a one-line summary of the plan and its cost (the whole plan with
``--json``) and calls no provider. Exit status 1 when a
segment failed.

``assemble`` joins a run's ready segments into one preview MP4 and prints where it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reelforge.cli.common import (
    console,
    emit,
    err_console,
    fail_on_error,
    load_settings,
    print_json,
)

if TYPE_CHECKING:
    from reelforge.settings import Settings

__all__ = ["assemble", "segments"]


def segments(
    request_file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, metavar="REQUEST", help="The segments request (JSON)"
        ),
    ],
    provider: Annotated[
        str | None, typer.Option(help="Provider id (fal-ai is fal); overrides the file's")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and its cost; call no provider")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the spec's response as JSON")
    ] = False,
) -> None:
    """Turn key frames into 1-3 video segments."""
    import asyncio

    from reelforge.features.segments.schemas import parse_request

    settings = load_settings()
    with fail_on_error():
        data = _read_json(request_file)
        if provider is not None:
            data.setdefault("video_settings", {})["provider_override"] = provider
        if dry_run:
            data["dry_run"] = True
        request = parse_request(data)
        body = asyncio.run(_generate(settings, request.model_dump(mode="json")))
    if request.dry_run or json_output:
        emit(body, json_output)
    else:
        _print_segments(body)
    failed = body.get("failed_segments", [])
    if any(segment["error"] != "provider_pending" for segment in failed):
        raise typer.Exit(1)


def assemble(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A segments run id")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Join a run's ready segments into one preview MP4."""
    import asyncio

    from reelforge.services import open_services

    settings = load_settings()

    async def run() -> dict[str, Any]:
        async with open_services(settings) as services:
            return await services.segments.assemble(run_id)

    with fail_on_error():
        preview = asyncio.run(run())
    if json_output:
        print_json(preview)
        return
    console.print(
        f"Preview of run {run_id}: {len(preview['segments'])} segment(s), "
        f"{preview['duration_seconds']:.2f} s ({preview['method'].replace('_', ' ')})"
    )
    if preview["missing_segments"]:
        console.print(f"Not ready, left out: {', '.join(preview['missing_segments'])}")
    console.print(preview["video_url"], soft_wrap=True)


async def _generate(settings: Settings, data: dict[str, Any]) -> dict[str, Any]:
    from reelforge.features.segments.schemas import parse_request
    from reelforge.services import open_services

    request = parse_request(data)
    if request.dry_run:
        async with open_services(settings) as services:
            return await services.segments.generate(request)
    async with open_services(settings, engine="api") as services:
        with err_console.status(f"Generating segments of {len(request.generated_frames)} frames"):
            return await services.segments.generate(request)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"{path} is not a readable JSON file: {exc}") from None
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path} must hold a JSON object.")
    return data


def _print_segments(body: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table("segment", "frames", "length", "provider", "video")
    for segment in body["video_segments"]:
        table.add_row(
            segment["segment_id"],
            ", ".join(segment["associated_frames"]),
            f"{segment['duration_seconds']:.2f} s",
            str(segment["provider_metadata"].get("provider", "")),
            segment["video_url"],
        )
    for failed in body["failed_segments"]:
        table.add_row(failed["segment_id"], "", "", failed["error"], failed["message"])
    console.print(table)
    console.print(f"Run {body['run_id']}: reelforge assemble {body['run_id']} joins them.")
