"""Reelforge: a self-hosted service that turns stories into pictures and motion."""

from __future__ import annotations

from reelforge.errors import ReelforgeError
from reelforge.settings import Settings

__version__ = "0.1.0"

__all__ = ["ReelforgeError", "Settings", "__version__"]
