"""The ``reelforge`` command. Each command group lives in its own module."""

from __future__ import annotations

from reelforge.cli.app import app, main

__all__ = ["app", "main"]
