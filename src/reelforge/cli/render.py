"""``reelforge render storyboard.json``: a storyboard's key frames, with a progress bar.

The file is the ``render_storyboard_frames`` request (``storyboard_frames``,
``character_profiles``, ``render_settings``) plus an optional ``title``. The render runs on
an engine in this process (so not next to a running ``reelforge serve`` in embedded mode);
the bar follows the run's events. Progress goes to stderr; the result table, or with
``--json`` the spec's response, to stdout. ``--dry-run`` prints a one-line summary and the jobs
(with ``--json``, the whole plan). Exit status 1 when any frame failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reelforge.cli.common import (
    console,
    emit,
    fail_on_error,
    follow_run,
    load_settings,
    print_json,
)
from reelforge.errors import Timeout

if TYPE_CHECKING:
    from reelforge.features.keyframes.schemas import KeyframesRequest, KeyframesResponse
    from reelforge.settings import Settings

__all__ = ["render"]


def render(
    storyboard: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A storyboard JSON file")
    ],
    provider: Annotated[
        str | None,
        typer.Option(help="Provider id or spec name (fal_ai); overrides the file's"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and its cost; call no provider")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the spec's response as JSON")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the frames")] = 900.0,
    project: Annotated[
        str | None, typer.Option(help="Charge the run to this project's budget")
    ] = None,
) -> None:
    """Render a storyboard's key frames."""
    import asyncio

    from reelforge.features.keyframes.schemas import parse_storyboard

    settings = load_settings()
    with fail_on_error():
        title, request = parse_storyboard(_read_json(storyboard))
        if provider is not None or dry_run:
            request = _override(request, provider, dry_run)
        outcome = asyncio.run(
            _render(settings, request, title=title, timeout_s=timeout, project_id=project)
        )
    if isinstance(outcome, dict):
        emit(outcome, json_output)
        return
    if json_output:
        print_json(outcome.model_dump(mode="json"))
    else:
        _print_table(outcome, [f.frame_id for f in request.storyboard_frames], settings)
    if outcome.failed_frames:
        raise typer.Exit(1)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"{path} is not a readable JSON file: {exc}") from None


def _override(request: KeyframesRequest, provider: str | None, dry_run: bool) -> KeyframesRequest:
    from reelforge.features.keyframes.schemas import RenderSettings

    update: dict[str, Any] = {"dry_run": request.dry_run or dry_run}
    if provider is not None:
        wanted = request.settings.model_dump(exclude_unset=True) | {"provider": provider}
        update["render_settings"] = RenderSettings.model_validate(wanted)
    return request.model_copy(update=update)


async def _render(
    settings: Settings,
    request: KeyframesRequest,
    *,
    title: str | None,
    timeout_s: float,
    project_id: str | None,
) -> KeyframesResponse | dict[str, Any]:
    from reelforge.features.keyframes.schemas import KeyframesPending
    from reelforge.services import open_services

    if request.dry_run:
        async with open_services(settings) as services:
            return await services.keyframes.dry_run(request, project_id=project_id)
    async with open_services(settings, engine="api") as services:
        assert services.engine is not None
        service = services.keyframes
        run_id = await service.start(request, project_id=project_id)
        label = title or f"{len(request.storyboard_frames)} frames"
        await follow_run(
            services.engine, run_id, f"Rendering {label}", len(request.storyboard_frames), timeout_s
        )
        outcome = await service.result(run_id, wait_s=0)
        if isinstance(outcome, KeyframesPending):
            raise Timeout(
                f"The frames were not done within {timeout_s:g} s.", details={"run_id": run_id}
            )
        return outcome


def _print_table(response: KeyframesResponse, order: list[str], settings: Settings) -> None:
    from rich.table import Table

    generated = {frame.frame_id: frame for frame in response.generated_frames}
    failed = {frame.frame_id: frame.error for frame in response.failed_frames}
    table = Table(title="Key frames")
    for column in ("Frame", "Status", "Image", "Seed", "Retries"):
        table.add_column(column)
    for frame_id in order:
        if frame_id in generated:
            meta = generated[frame_id].provider_metadata
            row = ("[green]ok[/green]", generated[frame_id].image_url, str(meta.seed))
            table.add_row(frame_id, *row, str(meta.retry_count))
        else:
            table.add_row(frame_id, f"[red]{failed.get(frame_id, 'missing')}[/red]", "", "", "")
    console.print(table)
    page = f"{settings.service_url}/runs/{response.run_id}"
    console.print(f"Run {response.run_id}: {page} (with reelforge serve running)")
