"""``reelforge engine``: the workflow version of this release, and the upgrade path around it.

``versions`` shows the version this release stamps on its workflows, the unfinished workflows
of each version, and the live executors of each. After an upgrade that moved the version,
``adopt --from-version OLD`` moves the old version's unfinished workflows onto this release
once no process of the old version runs (see ``docs/upgrading.md``). ``finish-ended`` runs the
finish step of runs that ended under a release whose features built their responses and records
on read, and have none stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from reelforge.cli.common import console, fail_on_error, load_settings, print_json

if TYPE_CHECKING:
    from reelforge.engine.adoption import Adoption
    from reelforge.settings import Settings

__all__ = ["app"]

app = typer.Typer(
    help="The job engine's workflow versions: show, adopt; finish runs ended before an upgrade.",
    no_args_is_help=True,
)


@app.command("versions")
def versions(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """This release's workflow version, unfinished workflows and live executors per version."""
    import asyncio

    from rich.table import Table

    from reelforge.catalog.repositories import utc_now
    from reelforge.engine.adoption import active_versions, live_executors
    from reelforge.services import open_services

    settings = load_settings()

    async def run() -> dict[str, Any]:
        async with open_services(settings) as services:
            workers = live_executors(
                await services.catalog.workers.list(),
                stale_after_s=settings.engine.stale_after_s,
                now=utc_now(),
            )
        workflows = await active_versions(_system_database_url(settings))
        return {
            "workflow_version": settings.engine.workflow_version,
            "workflows": workflows,
            "live_executors": {w.executor_id: w.app_version for w in workers},
        }

    with fail_on_error():
        found = asyncio.run(run())
    if as_json:
        print_json(found)
        return
    console.print(f"this release stamps workflow version [bold]{found['workflow_version']}[/bold]")
    table = Table("version", "unfinished workflows", "live executors")
    names = sorted({*found["workflows"], *found["live_executors"].values()})
    for name in names:
        counts = found["workflows"].get(name, {})
        executors = sorted(e for e, v in found["live_executors"].items() if v == name)
        table.add_row(
            name,
            ", ".join(f"{status.lower()} {n}" for status, n in sorted(counts.items())) or "none",
            ", ".join(executors) or "none",
        )
    console.print(table)


@app.command("adopt")
def adopt(
    from_version: Annotated[
        str, typer.Option("--from-version", help="The workflow version to adopt from")
    ],
    dry_run: Annotated[bool, typer.Option(help="Only list what would move")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Move an older version's unfinished workflows onto this release (none of its processes
    may still run): those a dead process was running go back on their queues."""
    import asyncio

    from reelforge.catalog.repositories import utc_now
    from reelforge.engine.adoption import adopt_workflows
    from reelforge.services import open_services

    settings = load_settings()

    async def run() -> Adoption:
        async with open_services(settings) as services:
            return await adopt_workflows(
                services.catalog.workers,
                _system_database_url(settings),
                from_version=from_version,
                to_version=settings.engine.workflow_version,
                stale_after_s=settings.engine.stale_after_s,
                now=utc_now,
                dry_run=dry_run,
            )

    with fail_on_error():
        adoption = asyncio.run(run())
    if as_json:
        print_json(adoption.to_json())
        return
    verb = "moved" if adoption.applied else "would move"
    console.print(
        f"{verb} {len(adoption.requeued) + len(adoption.restamped)} workflows from version "
        f"{adoption.from_version} to {adoption.to_version}: {len(adoption.requeued)} back on "
        f"their queues, {len(adoption.restamped)} already waiting on one"
    )


def _system_database_url(settings: Settings) -> str:
    return settings.engine.resolved_system_database_url(
        settings.data_dir, settings.effective_database_url
    )


@app.command("finish-ended")
def finish_ended(
    feature: Annotated[
        list[str] | None, typer.Option(help="Only this feature's runs (repeatable)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many runs")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Finish the ended runs that have no stored response (runs of a release whose features
    built their responses and records on read): their responses, records and metrics. Run it
    once after upgrading, with the server stopped in embedded mode (it starts the engine)."""
    import asyncio

    from reelforge.services import open_services

    settings = load_settings()

    async def run() -> list[str]:
        # With the engine: a finish may start a feature's next stage (a cutscene's clip).
        async with open_services(settings, engine="api") as services:
            names = feature or services.features.names()
            for name in names:
                services.features.get(name)  # an unknown feature is refused
            return await services.engine.finish_ended(names, limit=limit)

    with fail_on_error():
        finished = asyncio.run(run())
    if as_json:
        print_json({"finished": finished})
        return
    console.print(f"finished {len(finished)} runs that ended without a stored response")
