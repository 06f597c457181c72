"""Reelforge: a self-hosted service that turns stories into pictures and motion.

Importing the package, or any one module of it such as :mod:`reelforge.errors`, loads nothing
else: ``ReelforgeError`` and ``Settings`` are imported from their modules when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.errors import ReelforgeError
    from reelforge.settings import Settings

__version__ = "0.1.0"

__all__ = ["ReelforgeError", "Settings", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "ReelforgeError":
        from reelforge.errors import ReelforgeError

        return ReelforgeError
    if name == "Settings":
        from reelforge.settings import Settings

        return Settings
    raise AttributeError(f"module 'reelforge' has no attribute {name!r}")
