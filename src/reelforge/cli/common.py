"""Helpers shared by the CLI commands: settings, errors, output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console

from reelforge.errors import ReelforgeError
from reelforge.log import configure_logging
from reelforge.settings import Settings

__all__ = ["console", "err_console", "fail_on_error", "load_settings", "print_json"]

console = Console()
err_console = Console(stderr=True)


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        err_console.print(f"[red]Invalid settings:[/red] {fields}")
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


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
