"""``reelforge jobs``: list jobs, show a job or a run (with history, or followed live), cancel.

Ids may be given by a unique prefix (``list`` prints the shortest that are unique, at least
:data:`SHORT_ID` characters); a prefix that fits several jobs or runs is refused, naming them.
``list`` and ``show`` read the catalog and need no engine. ``show RUN --follow`` draws a
progress bar from the run's events until it completes. ``cancel`` reaches the engine as a
client (no lock, nothing run here), so it works next to a running ``reelforge serve``: the
provider's cancel call is made from here, the workflows stop where they run.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from reelforge.cli.common import AsJson, console, emit, fail_on_error, load_settings, print_json
from reelforge.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from reelforge.engine.service import EngineService
    from reelforge.services import Services

__all__ = ["app"]

app = typer.Typer(help="Provider jobs and runs: list, show, cancel.", no_args_is_help=True)

#: The fewest characters of an id that ``list`` prints.
SHORT_ID = 8

JobStatusOption = Literal["queued", "running", "succeeded", "failed", "canceled"]
_FINAL_JOB_EVENTS = ("job_succeeded", "job_failed", "job_canceled")


@app.command("list")
def list_jobs(
    status: Annotated[JobStatusOption | None, typer.Option(help="Only jobs in this status")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider's jobs")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: AsJson = False,
) -> None:
    """The newest jobs first (ids shortened to unique prefixes; --json has them whole)."""
    import asyncio

    from rich.table import Table

    async def run() -> list[dict[str, Any]]:
        async with _services() as services:
            jobs = await services.engine.list_jobs(status=status, provider=provider, limit=limit)
            return [job.to_json() for job in jobs]

    with fail_on_error():
        jobs = asyncio.run(run())
    if as_json:
        print_json({"jobs": jobs})
        return
    ids = [job["id"] for job in jobs] + [job["run_id"] or "" for job in jobs]
    short = shortest_unique_prefixes(ids)
    table = Table("job", "run", "label", "provider", "status", "tries", "assets", "created")
    for job in jobs:
        table.add_row(
            short[job["id"]],
            short.get(job["run_id"] or "", ""),
            job["label"] or "",
            job["provider"],
            job["status"],
            str(job["attempts"]),
            str(len(job["asset_ids"])),
            job["created_at"][:19].replace("T", " "),
        )
    console.print(table)


def shortest_unique_prefixes(ids: list[str]) -> dict[str, str]:
    """Each id's shortest prefix (at least :data:`SHORT_ID` characters) that no other id in
    ``ids`` shares."""
    distinct = sorted({found for found in ids if found})
    short: dict[str, str] = {}
    for index, found in enumerate(distinct):
        length = SHORT_ID
        for neighbour in distinct[max(index - 1, 0) : index + 2]:
            if neighbour != found:
                shared = next(
                    (i for i, (a, b) in enumerate(zip(found, neighbour, strict=False)) if a != b),
                    min(len(found), len(neighbour)),
                )
                length = max(length, shared + 1)
        short[found] = found[:length]
    return short


@app.command("show")
def show(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="A job id or a run id")],
    follow: Annotated[bool, typer.Option(help="For a run: follow its progress live")] = False,
    as_json: AsJson = False,
) -> None:
    """A job with its history (status changes, polls, webhooks), or a run with its jobs."""
    import asyncio

    async def run() -> tuple[str, dict[str, Any]]:
        async with _services() as services:
            engine = services.engine
            kind, found = await resolve_id(services, item_id)
            if kind == "job":
                return kind, (await engine.get_job(found)).to_json()
            if follow:
                await _follow(engine, found)
            return kind, (await engine.get_run(found)).to_json()

    with fail_on_error():
        kind, view = asyncio.run(run())
    emit(view, as_json, title=f"{kind} {view.get('id', item_id)}")


@app.command("cancel")
def cancel(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="A run id or a job id")],
    as_json: AsJson = False,
) -> None:
    """Cancel a run's unfinished jobs, or one job, at the provider too."""
    import asyncio

    from reelforge.services import open_engine

    async def run() -> tuple[str, dict[str, Any]]:
        async with _services() as services:
            kind, found = await resolve_id(services, item_id)
            engine = await open_engine(services, "client")
            if kind == "job":
                return kind, (await engine.cancel_job(found)).to_json()
            return kind, (await engine.cancel_run(found)).to_json()

    with fail_on_error():
        kind, view = asyncio.run(run())
    emit(view, as_json, title=f"canceled {kind} {view.get('id', item_id)}")


async def resolve_id(services: Services, prefix: str) -> tuple[Literal["job", "run"], str]:
    """The job or run whose id is ``prefix`` or starts with it. No match is NOT_FOUND; several
    are INVALID_INPUT, naming them."""
    prefix = prefix.strip().lower()
    if not prefix:
        raise InvalidInput("Give a job or run id (or the start of one).")
    jobs = await services.catalog.jobs.ids_starting_with(prefix)
    runs = await services.catalog.runs.ids_starting_with(prefix)
    if prefix in jobs:
        return "job", prefix
    if prefix in runs:
        return "run", prefix
    candidates: list[tuple[Literal["job", "run"], str]] = [("job", found) for found in jobs]
    candidates += [("run", found) for found in runs]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFound(f"No job or run id starts with {prefix!r}.", details={"id": prefix})
    raise InvalidInput(
        f"{prefix!r} is the start of {len(candidates)} ids; give more of it: "
        + ", ".join(f"{kind} {found}" for kind, found in candidates),
        details={"id": prefix, "candidates": [{"kind": k, "id": i} for k, i in candidates]},
    )


def _services() -> AbstractAsyncContextManager[Services]:
    from reelforge.services import open_services

    return open_services(load_settings())


async def _follow(engine: EngineService, run_id: str) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
