"""Leonardo.Ai: text→image generations and image→video motion, polled (reference §5).

:mod:`.adapter` is the provider (settings, upload, cancel policy, callbacks), :mod:`.models`
builds the request bodies (options, configured prices), :mod:`.wire` reads Leonardo's answers
(generation states and errors).
"""

from __future__ import annotations

from reelforge.providers.leonardo.adapter import LeonardoProvider, LeonardoSettings
from reelforge.providers.leonardo.models import LeonardoOptions, LeonardoPrice
from reelforge.providers.leonardo.wire import LeonardoError, leonardo_error, parse_generation

__all__ = [
    "LeonardoError",
    "LeonardoOptions",
    "LeonardoPrice",
    "LeonardoProvider",
    "LeonardoSettings",
    "leonardo_error",
    "parse_generation",
]
