"""``reelforge transform PHOTO "description"``: the Cinematic Switch from the command line.

The file (a JPG/PNG photo or an MP4/MOV video) goes through the same checks as an upload, read
in chunks with the spec's limits; the transform runs on an engine in this process (so not next
to a running ``reelforge serve`` in embedded mode). Progress goes to stderr; the result table,
or with ``--json`` the spec's envelope, to stdout. ``--dry-run`` prints the plan and its price
and calls no provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reelforge.cli.common import console, err_console, fail_on_error, load_settings, print_json

if TYPE_CHECKING:
    from reelforge.engine.config import EngineRole
    from reelforge.settings import Settings

__all__ = ["transform"]

_CHUNK = 1024 * 1024


def transform(
    media: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A JPG/PNG photo or MP4/MOV video")
    ],
    description: Annotated[str, typer.Argument(help="The scene or style (10-2000 characters)")],
    style: Annotated[
        str | None, typer.Option(help="cinematic, medieval, futuristic, vintage, noir, ...")
    ] = None,
    count: Annotated[int, typer.Option(help="Variations, 1-5")] = 1,
    aspect_ratio: Annotated[str, typer.Option(help="original, 1:1, 16:9, 9:16, 4:3, 3:4")] = (
        "original"
    ),
    keep_upload: Annotated[
        bool, typer.Option("--keep-upload", help="Keep the uploaded file in the store")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and its cost; call no provider")
    ] = False,
    project: Annotated[str | None, typer.Option(help="Charge it to this project")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the spec's envelope")] = False,
) -> None:
    """Put the person from a photo or video into a new scene."""
    import asyncio

    from reelforge.cli.human import print_human

    settings = load_settings()
    fields = {
        "scene_description": description,
        "style_preset": style,
        "output_count": count,
        "aspect_ratio": aspect_ratio,
        "keep_upload": keep_upload,
        "dry_run": dry_run,
        "project_id": project,
    }
    with fail_on_error():
        envelope = asyncio.run(_transform(settings, media, fields))
    if json_output:
        print_json(envelope)
        return
    if envelope["result"].get("dry_run"):
        print_human(envelope["result"])
        return
    _print_table(envelope["result"])


async def _transform(settings: Settings, media: Path, fields: dict[str, Any]) -> dict[str, Any]:
    from reelforge.features.transform.upload import stage_chunks
    from reelforge.features.transform.validation import parse_request
    from reelforge.services import open_services

    request = parse_request(fields, settings.transform)
    engine: EngineRole | None = None if request.dry_run else "api"
    async with open_services(settings, engine=engine) as services:
        transforms = services.transform
        temp_dir = settings.ingest_temp_dir
        async with stage_chunks(_read(media), settings.transform, temp_dir) as staged:
            upload = await transforms.receive(staged)
        outcome = await transforms.transform(request, upload, source="cli", progress=_progress)
        return outcome.to_envelope()


async def _progress(event: dict[str, Any]) -> None:
    name = event.get("event", "")
    detail = event.get("label") or event.get("provider") or event.get("status") or ""
    err_console.print(f"[dim]{name}[/dim] {detail}".rstrip())


async def _read(path: Path) -> AsyncIterator[bytes]:
    import asyncio

    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            yield chunk


def _print_table(result: dict[str, Any]) -> None:
    from rich.table import Table

    data = result["data"]
    table = Table("variation", "url", "likeness")
    for score in data["identity"]["scores"]:
        distance = score["distance"]
        likeness = (
            score.get("note") or "n/a"
            if distance is None
            else f"{'kept' if score['passed'] else 'changed'} ({distance:.2f})"
        )
        table.add_row(str(score["variation"]), score["url"], likeness)
    console.print(table)
    console.print(
        f"{data['variation_count']} made by {result['provider']} ({data['model_used']}) in "
        f"{data['processing_time']} s"
    )
    for warning in data.get("warnings", []):
        console.print(f"[yellow]{warning}[/yellow]")
