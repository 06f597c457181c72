"""``reelforge emulate``: the provider emulator on a local port, or the environment to use it."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from reelforge.cli.common import console, fail_on_error

__all__ = ["emulate"]

_ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - names, compared against, never bound here


def emulate(
    port: Annotated[int, typer.Option(help="Port to serve on", min=1, max=65535)] = 8910,
    host: Annotated[str, typer.Option(help="Address to bind (keep it loopback)")] = "127.0.0.1",
    print_env: Annotated[
        bool,
        typer.Option(
            "--print-env",
            help="Print the environment lines that point Reelforge at the emulator, and exit",
        ),
    ] = False,
) -> None:
    """Serve every hosted provider's wire format on loopback: no network, no money."""
    import asyncio

    from reelforge.emulator.server import emulator_env, serve_emulator
    from reelforge.log import configure_logging

    reach = "127.0.0.1" if host in _ANY_ADDRESS else host
    base_url = f"http://{reach}:{port}"
    if print_env:
        for name, value in sorted(emulator_env(base_url).items()):
            typer.echo(f"{name}={shlex.quote(value)}")
        return
    configure_logging("info")
    console.print(
        f"Provider emulator on [bold]{base_url}[/bold]; control API at {base_url}/_emulator/config"
        f" (see `reelforge emulate --print-env`)."
    )
    with fail_on_error():
        asyncio.run(serve_emulator(host, port))
