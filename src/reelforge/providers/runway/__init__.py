"""Runway: image-to-video clips (gen4_turbo, gen4.5, veo3) and gen4 stills through Runway's
task API, polled (Runway sends no webhooks).

:mod:`.adapter` is the provider, :mod:`.wire` reads Runway's answers (states and errors),
:mod:`.models` knows the models' parameters and credit prices.
"""

from __future__ import annotations

from reelforge.providers.runway.adapter import RunwayProvider, RunwaySettings
from reelforge.providers.runway.models import RunwayOptions, RunwayPrice
from reelforge.providers.runway.wire import RunwayError, parse_task, runway_error

__all__ = [
    "RunwayError",
    "RunwayOptions",
    "RunwayPrice",
    "RunwayProvider",
    "RunwaySettings",
    "parse_task",
    "runway_error",
]
