"""The ``reelforge`` command. Each command group lives in its own module.

Registering the commands must stay cheap: ``reelforge --help`` and ``reelforge version`` import
every command module. So a command module imports at its top only typer, rich, the standard
library and light Reelforge modules (errors, closed vocabularies); the composition root, the
settings, pydantic models, media libraries (and asyncio, which loads ssl) are imported inside
the command that uses them, when it runs. A type used only in annotations is imported under
``TYPE_CHECKING``; one that an option's annotation names must be light, since typer reads it.
``tests/cli/test_start_up.py`` guards this; ``bench/cli_start.py`` measures it.
"""

from __future__ import annotations

from reelforge.cli.app import app, main

__all__ = ["app", "main"]
