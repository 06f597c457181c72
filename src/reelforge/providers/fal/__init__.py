"""fal.ai: flux stills and veo / kling clips through fal's queue, its sync endpoint and
signed webhooks.

:mod:`.adapter` is the provider, :mod:`.wire` reads fal's answers (states and errors),
:mod:`.models` knows the model families (options, arguments, outputs, prices).
"""

from __future__ import annotations

from reelforge.providers.fal.adapter import FalProvider, FalSettings
from reelforge.providers.fal.models import FalOptions, FalPrice
from reelforge.providers.fal.wire import FalError, fal_error, parse_status

__all__ = [
    "FalError",
    "FalOptions",
    "FalPrice",
    "FalProvider",
    "FalSettings",
    "fal_error",
    "parse_status",
]
