"""The local studio's own error class: a render or encode that failed (``LOCAL_STUDIO_ERROR``)."""

from __future__ import annotations

from reelforge.errors import ProviderError

__all__ = ["LocalStudioError"]


class LocalStudioError(ProviderError):
    """A local studio job that failed (a bad image, an encoder error)."""

    code = "LOCAL_STUDIO_ERROR"
