"""``reelforge queue``: hold the engine's queues, retry, reprioritise, cancel queued work.

- ``reelforge queue status``: per provider, jobs in flight, queued and held, the oldest wait;
  and the paused runs;
- ``reelforge queue pause PROVIDER`` / ``--run RUN_ID``, and ``resume`` the same way: jobs not
  yet submitted wait, submitted ones finish;
- ``reelforge queue cancel --provider P`` / ``--project P``: cancel every job not yet
  submitted;
- ``reelforge queue priority RUN_ID interactive|batch``;
- ``reelforge queue retry RUN_ID``: retry an ended run's failed jobs.

All but ``retry`` reach the engine as a client (nothing runs here), so they work next to a
running ``reelforge serve`` or workers. ``retry`` starts the retry's workflow, so it needs an
engine of its own, as ``reelforge runs start`` does: in embedded mode use the API
(``POST /v1/runs/{id}/retry``) while the server runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from reelforge.cli.common import AsJson, emit, fail_on_error, load_settings
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from reelforge.engine.queue_repository import PauseScope

__all__ = ["app"]

app = typer.Typer(
    help="The engine's queues: status, pause, resume, retry, priority, cancel.",
    no_args_is_help=True,
)

ProviderArg = Annotated[
    str | None, typer.Argument(metavar="[PROVIDER]", help="A provider's queue (its id)")
]
RunOption = Annotated[str | None, typer.Option("--run", help="One run, by its id")]


@app.command("status")
def status(as_json: AsJson = False) -> None:
    """Per provider: in flight, queued, held by a pause, the oldest wait; the paused runs."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            return (await services.engine.queues.view()).to_json()

    with fail_on_error():
        emit(asyncio.run(run()), as_json, title="queues")


@app.command("pause")
def pause(provider: ProviderArg = None, run_id: RunOption = None, as_json: AsJson = False) -> None:
    """Pause PROVIDER's queue, or one run (--run): jobs not yet submitted wait."""
    _hold("pause", provider, run_id, as_json)


@app.command("resume")
def resume(provider: ProviderArg = None, run_id: RunOption = None, as_json: AsJson = False) -> None:
    """Resume PROVIDER's queue, or one run (--run)."""
    _hold("resume", provider, run_id, as_json)


def _hold(
    action: Literal["pause", "resume"], provider: str | None, run_id: str | None, as_json: bool
) -> None:
    import asyncio

    from reelforge.services import open_engine, open_services

    async def run() -> dict[str, Any]:
        scope, target = _target(provider, run_id)
        async with open_services(load_settings()) as services:
            queues = services.engine.queues
            if action == "pause":
                held = await queues.pause(scope, target)
                return {
                    "scope": scope,
                    "target": target,
                    "paused": True,
                    "paused_at": held.paused_at.isoformat(),
                }
            await open_engine(services, "client")
            was_paused = await queues.resume(scope, target)
            return {"scope": scope, "target": target, "paused": False, "was_paused": was_paused}

    with fail_on_error():
        emit(asyncio.run(run()), as_json, title=f"{action} {provider or run_id}")


@app.command("cancel")
def cancel(
    provider: Annotated[str | None, typer.Option(help="A provider's queued jobs")] = None,
    project: Annotated[str | None, typer.Option(help="A project's queued jobs")] = None,
    as_json: AsJson = False,
) -> None:
    """Cancel every job not yet submitted of a provider or of a project; submitted jobs go on."""
    import asyncio

    from reelforge.services import open_engine, open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            await open_engine(services, "client")
            canceled = await services.engine.queues.cancel_queued(
                provider=provider, project_id=project
            )
            return {"canceled": canceled}

    with fail_on_error():
        emit(asyncio.run(run()), as_json, title="canceled")


@app.command("priority")
def priority(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID")],
    level: Annotated[Literal["interactive", "batch"], typer.Argument(metavar="LEVEL")],
    as_json: AsJson = False,
) -> None:
    """Dequeue RUN_ID's jobs still on their queue at LEVEL (interactive or batch)."""
    import asyncio

    from reelforge.services import open_engine, open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            await open_engine(services, "client")
            moved = await services.engine.queues.set_priority(run_id, level)
            return {"run_id": run_id, "priority": level, "requeued": moved}

    with fail_on_error():
        emit(asyncio.run(run()), as_json, title=f"priority {run_id}")


@app.command("retry")
def retry(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID")], as_json: AsJson = False
) -> None:
    """Retry RUN_ID's failed jobs (new jobs, budget reserved anew; the failed ones kept)."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings(), engine="api") as services:
            return (await services.engine.queues.retry(run_id)).to_json()

    with fail_on_error():
        emit(asyncio.run(run()), as_json, title=f"retried run {run_id}")


def _target(provider: str | None, run_id: str | None) -> tuple[PauseScope, str]:
    if provider is not None and run_id is None:
        return "provider", provider
    if run_id is not None and provider is None:
        return "run", run_id
    raise InvalidInput("Name a provider or --run RUN_ID, not both.")
