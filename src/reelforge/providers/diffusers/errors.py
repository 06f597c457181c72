"""The diffusers provider's own error class (``DIFFUSERS_ERROR``): a pipeline that would not
load or failed while generating."""

from __future__ import annotations

from reelforge.errors import ProviderError

__all__ = ["DiffusersError"]


class DiffusersError(ProviderError):
    """A diffusers job that failed (a model folder that does not load, a pipeline error)."""

    code = "DIFFUSERS_ERROR"
