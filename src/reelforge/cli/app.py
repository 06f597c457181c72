"""The Typer application: core commands, and the groups of the other modules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer

from reelforge import __version__
from reelforge.cli import characters as characters_cli
from reelforge.cli import cutscene as cutscene_cli
from reelforge.cli import demo, studio
from reelforge.cli import emulate as emulate_cli
from reelforge.cli import engine as engine_cli
from reelforge.cli import jobs as jobs_cli
from reelforge.cli import mcp as mcp_cli
from reelforge.cli import queue as queue_cli
from reelforge.cli import render as render_cli
from reelforge.cli import runs as runs_cli
from reelforge.cli import segments as segments_cli
from reelforge.cli import transform as transform_cli
from reelforge.cli import webhooks as webhooks_cli
from reelforge.cli import worker as worker_cli
from reelforge.cli.common import AsJson, console, emit, fail_on_error, load_settings, set_verbose
from reelforge.cli.costs import costs as costs_command
from reelforge.errors import ReelforgeError

__all__ = ["app", "main"]

app = typer.Typer(
    name="reelforge",
    help="Reelforge: turn stories into pictures and motion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what happens (info), not only warnings")
    ] = False,
) -> None:
    set_verbose(verbose)


db_app = typer.Typer(help="The catalog database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(studio.app, name="studio")
app.command("demo")(demo.demo)
app.command("emulate")(emulate_cli.emulate)
app.command("costs")(costs_command)
app.add_typer(jobs_cli.app, name="jobs")
app.add_typer(runs_cli.app, name="runs")
app.add_typer(queue_cli.app, name="queue")
app.add_typer(webhooks_cli.app, name="webhooks")
app.command("worker")(worker_cli.worker)
app.add_typer(engine_cli.app, name="engine")
app.add_typer(characters_cli.app, name="characters")
app.add_typer(cutscene_cli.app, name="cutscene")
app.command("render")(render_cli.render)
app.command("mcp")(mcp_cli.mcp)
app.command("segments")(segments_cli.segments)
app.command("assemble")(segments_cli.assemble)
app.command("transform")(transform_cli.transform)


@app.command()
def version() -> None:
    """Print the Reelforge version."""
    console.print(f"reelforge {__version__}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the catalog database to the newest schema."""
    import asyncio

    from reelforge.catalog.migrate import current_revision, upgrade_database

    settings = load_settings()
    url = settings.effective_database_url

    async def run() -> str | None:
        await upgrade_database(url)
        return await current_revision(url)

    with fail_on_error():
        revision = asyncio.run(run())
    console.print(f"database at revision [bold]{revision}[/bold]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (settings: server.host)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (settings: server.port)")] = None,
) -> None:
    """Run the API server (migrates the database first)."""
    import asyncio

    from reelforge.cli.server import run_server

    settings = load_settings(service=True)
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if overrides:
        settings = settings.model_copy(
            update={"server": settings.server.model_copy(update=overrides)}
        )
    with fail_on_error():
        asyncio.run(run_server(settings))


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="An http(s) URL or a local file path")],
    as_json: AsJson = False,
) -> None:
    """Ingest one image or video into the store and print its asset record."""
    import asyncio

    from reelforge.services import open_services

    settings = load_settings()
    is_url = "://" in source
    if not is_url and not Path(source).is_file():
        raise typer.BadParameter(f"{source} is not a file or an http(s) URL")

    async def run() -> dict[str, object]:
        async with open_services(settings) as services:
            if is_url:
                record = await services.assets.ingest_url(source)
            else:
                record = await services.assets.ingest_stream(_read_file(Path(source)))
            return services.assets.view(record)

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


async def _read_file(path: Path, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
    import asyncio

    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, chunk_size):
            yield chunk


def main() -> None:
    try:
        app()
    except ReelforgeError as exc:  # pragma: no cover - fail_on_error handles commands
        console.print_json(json.dumps({"success": False, "error": exc.to_payload()}))
        raise SystemExit(1) from exc
