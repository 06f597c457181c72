"""``reelforge jobs``: list jobs, show a job or a run (with history, or followed live), cancel.

``list`` and ``show`` read the catalog and need no engine. ``show RUN --follow`` draws a
progress bar from the run's events until it completes. ``cancel`` reaches the engine as a
client (no lock, nothing run here), so it works next to a running ``reelforge serve``: the
provider's cancel call is made from here, the workflows stop where they run.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reelforge.cli.common import console, fail_on_error, load_settings, print_json
from reelforge.engine.service import EngineService
from reelforge.errors import NotFound
from reelforge.services import Services, open_engine, open_services

__all__ = ["app"]

app = typer.Typer(help="Provider jobs and runs: list, show, cancel.", no_args_is_help=True)

JobStatusOption = Literal["queued", "running", "succeeded", "failed", "canceled"]
_FINAL_JOB_EVENTS = ("job_succeeded", "job_failed", "job_canceled")


@app.command("list")
def list_jobs(
    status: Annotated[JobStatusOption | None, typer.Option(help="Only jobs in this status")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider's jobs")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The newest jobs first."""

    async def run() -> list[dict[str, Any]]:
        async with _services() as services:
            jobs = await services.engine.list_jobs(status=status, provider=provider, limit=limit)
            return [job.to_json() for job in jobs]

    with fail_on_error():
        jobs = asyncio.run(run())
    if as_json:
        print_json({"jobs": jobs})
        return
    table = Table("job", "run", "label", "provider", "status", "attempts", "assets", "created")
    for job in jobs:
        table.add_row(
            job["id"],
            job["run_id"] or "",
            job["label"] or "",
            job["provider"],
            job["status"],
            str(job["attempts"]),
            str(len(job["asset_ids"])),
            job["created_at"][:19],
        )
    console.print(table)


@app.command("show")
def show(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="A job id or a run id")],
    follow: Annotated[bool, typer.Option(help="For a run: follow its progress live")] = False,
) -> None:
    """A job with its history (status changes, polls, webhooks), or a run with its jobs."""

    async def run() -> dict[str, Any]:
        async with _services() as services:
            engine = services.engine
            try:
                return (await engine.get_job(item_id)).to_json()
            except NotFound:
                pass
            if follow:
                await _follow(engine, item_id)
            return (await engine.get_run(item_id)).to_json()

    with fail_on_error():
        print_json(asyncio.run(run()))


@app.command("cancel")
def cancel(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="A run id or a job id")],
) -> None:
    """Cancel a run's unfinished jobs, or one job, at the provider too."""

    async def run() -> dict[str, Any]:
        async with _services() as services:
            engine = await open_engine(services, "client")
            try:
                return (await engine.cancel_job(item_id)).to_json()
            except NotFound:
                return (await engine.cancel_run(item_id)).to_json()

    with fail_on_error():
        print_json(asyncio.run(run()))


def _services() -> AbstractAsyncContextManager[Services]:
    return open_services(load_settings())


async def _follow(engine: EngineService, run_id: str) -> None:
    view = await engine.get_run(run_id)
    if view.done:
        return
    seen = await engine.events(run_id)
    after = seen[-1].id if seen else 0
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        done = sum(1 for job in view.jobs if job.status in ("succeeded", "failed", "canceled"))
        task = progress.add_task(f"run {run_id}", total=len(view.jobs), completed=done, note="")
        async for event in engine.follow(run_id, after):
            if event.kind in _FINAL_JOB_EVENTS:
                progress.advance(task)
            progress.update(task, note=event.kind)
