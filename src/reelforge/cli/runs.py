"""``reelforge runs``: start any feature's run from a JSON file, and read a run's result.

- ``reelforge runs features``: the features runs can be started for;
- ``reelforge runs start FEATURE REQUEST.json [--project P] [--timeout S] [--callback-url U]``:
  start the run in
  this process's engine, follow it with a progress bar and print its result (the response once
  done);
- ``reelforge runs result RUN_ID``: where a run stands, and its response once done.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from reelforge.cli.common import AsJson, emit, fail_on_error, follow_run, load_settings
from reelforge.errors import InvalidInput

__all__ = ["app"]

app = typer.Typer(help="Runs of any feature: start one, read its result.", no_args_is_help=True)


@app.command("features")
def features(as_json: AsJson = False) -> None:
    """List the features runs can be started for."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> list[str]:
        async with open_services(load_settings()) as services:
            return services.runs.names()

    with fail_on_error():
        names = asyncio.run(run())
    emit({"features": names} if as_json else "\n".join(names), as_json)


@app.command("start")
def start(
    feature: Annotated[str, typer.Argument(help="The feature (see `reelforge runs features`)")],
    request_file: Annotated[Path, typer.Argument(metavar="REQUEST.json", help="Its request")],
    project: Annotated[str | None, typer.Option(help="Charge the run to this project")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to follow the run")] = 600.0,
    callback_url: Annotated[
        str | None, typer.Option(help="Send the run's events to this URL, signed")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Start a run of FEATURE with the request in REQUEST.json, follow it, print its result."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        data = _read_request(request_file)
        async with open_services(load_settings(), engine="api") as services:
            run_id = await services.runs.start(
                feature, data, project_id=project, callback_url=callback_url
            )
            view = await services.engine.get_run(run_id)
            await follow_run(services.engine, run_id, feature, len(view.jobs), timeout)
            return (await services.runs.result(run_id)).to_json()

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


@app.command("result")
def result(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID")], as_json: AsJson = False
) -> None:
    """Where a run stands, and its response once done."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            return (await services.runs.result(run_id)).to_json()

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


def _read_request(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object (the feature's request).")
    return data
