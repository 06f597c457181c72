"""Helpers shared by the CLI commands: settings, errors, output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from reelforge.errors import ReelforgeError

if TYPE_CHECKING:
    from reelforge.engine.service import EngineService
    from reelforge.providers.registry import ProviderRegistry
    from reelforge.settings import Settings

__all__ = [
    "AsJson",
    "announce_providers",
    "check_providers",
    "console",
    "emit",
    "err_console",
    "fail_on_error",
    "follow_run",
    "load_settings",
    "print_json",
    "set_verbose",
]

console = Console()
err_console = Console(stderr=True)

#: The ``--json`` option of the commands that print a result.
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for machines")]

_verbosity = {"verbose": False}


def set_verbose(verbose: bool) -> None:
    """``reelforge -v``: the commands log at the settings' level instead of warnings only."""
    _verbosity["verbose"] = verbose


def load_settings(*, service: bool = False) -> Settings:
    """The settings, with logging configured. A command that does one job logs warnings and
    errors only unless ``-v`` is given or ``REELFORGE_LOG_LEVEL`` is set; a ``service`` (a
    server, a worker) logs at the settings' level."""
    from pydantic import ValidationError

    from reelforge.log import configure_logging
    from reelforge.settings import Settings
    from reelforge.validation import validation_problems

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = validation_problems(exc.errors())
        fields = "; ".join(f"{problem['field']} ({problem['problem']})" for problem in problems)
        err_console.print(f"[red]Invalid settings:[/red] {fields}", soft_wrap=True)
        raise typer.Exit(2) from None
    level = settings.log_level
    chosen = service or _verbosity["verbose"] or "log_level" in settings.model_fields_set
    if not chosen and level in ("debug", "info"):
        level = "warning"
    configure_logging(level, json=settings.log_json)
    return settings


def announce_providers(providers: ProviderRegistry) -> None:
    """Say at start-up which providers are configured and from which variable each reads its
    key (names only, never a value): one log line, and one console line."""
    from reelforge.log import get_logger

    log = get_logger(__name__)
    setup = providers.setup()
    configured = [found.label() for found in setup if found.configured]
    not_configured = [found.id for found in setup if not found.configured]
    log.info("providers.configured", configured=configured, not_configured=not_configured)
    for found in setup:
        if found.ignored:
            log.warning(
                "provider.key_env_ignored",
                provider=found.id,
                key_env=found.key_env,
                ignored_env=list(found.ignored),
                reason="also set, to a different key",
            )
    console.print(
        f"providers configured: {', '.join(configured) or 'none'}; "
        f"not configured: {', '.join(not_configured) or 'none'}",
        soft_wrap=True,
        highlight=False,
    )


async def check_providers(providers: ProviderRegistry) -> None:
    """Ask each configured provider whether it can serve what is configured (a self-hosted
    server's workflows), at start-up: a refusal is a warning naming it, never a stop."""
    from reelforge.log import get_logger

    log = get_logger(__name__)
    for provider_id, error in (await providers.check_setups()).items():
        log.warning("provider.setup_refused", provider=provider_id, code=error.code)
        err_console.print(f"[yellow]{provider_id}:[/yellow] {error.message}", soft_wrap=True)


@contextmanager
def fail_on_error() -> Iterator[None]:
    """Print a Reelforge error as its public envelope and exit non-zero."""
    try:
        yield
    except ReelforgeError as exc:
        err_console.print(f"[red]{exc.code}[/red]: {exc.message}")
        if exc.details:
            err_console.print_json(json.dumps(exc.details, default=str))
        raise typer.Exit(1) from None


def print_json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str))


def emit(value: Any, as_json: bool, *, title: str | None = None) -> None:
    """Print a command's result: JSON with ``--json``, else for a person (see
    :mod:`reelforge.cli.human`)."""
    from reelforge.cli.human import print_human

    if as_json:
        print_json(value)
    else:
        print_human(value, title=title)


_FINISHED = frozenset({"job_succeeded", "job_failed", "job_canceled"})


async def follow_run(
    engine: EngineService, run_id: str, label: str, total: int, timeout_s: float
) -> None:
    """A progress bar on stderr fed by the run's events until it completes (or ``timeout_s``
    passes), naming the jobs that fail or retry."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    labels = {job.id: job.label or job.id for job in (await engine.get_run(run_id)).jobs}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    running: dict[str, float] = {}
    finished = 0
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(label, total=total)
        try:
            async with asyncio.timeout(timeout_s):
                async for event in engine.follow(run_id):
                    name = labels.get(event.job_id or "", "")
                    if event.kind == "job_progress":
                        # A provider's step k of n: the bar moves within the job.
                        running[event.job_id or ""] = float(event.payload.get("progress") or 0)
                        step = event.payload.get("message")
                        progress.update(
                            task,
                            completed=finished + sum(running.values()),
                            description=f"{label} ({name}: {step})" if step else label,
                        )
                    elif event.kind in _FINISHED:
                        running.pop(event.job_id or "", None)
                        finished += 1
                        progress.update(
                            task, completed=finished + sum(running.values()), description=label
                        )
                        if event.kind != "job_succeeded":
                            error = event.payload.get("error") or {}
                            progress.console.print(f"{name}: {error.get('code', event.kind)}")
                    elif event.kind == "job_retrying":
                        error = event.payload.get("error") or {}
                        progress.console.print(
                            f"{name}: {error.get('code', 'error')}, retry "
                            f"{event.payload.get('retry')} in {event.payload.get('delay_s')} s"
                        )
        except TimeoutError:
            return
