"""Google's Gemini Developer API: Gemini image models and Imagen stills, Veo clips.

:mod:`.adapter` is the provider, :mod:`.wire` reads Google's answers (operations and errors),
:mod:`.models` knows the model families (options, request bodies, outputs, prices). Imagen is
retired on the Gemini API for new work (see :mod:`.adapter`); it stays selectable by model id.
"""

from __future__ import annotations

from reelforge.providers.google.adapter import GoogleProvider, GoogleSettings
from reelforge.providers.google.models import GoogleOptions, GooglePrice
from reelforge.providers.google.wire import GoogleError, google_error, parse_operation

__all__ = [
    "GoogleError",
    "GoogleOptions",
    "GooglePrice",
    "GoogleProvider",
    "GoogleSettings",
    "google_error",
    "parse_operation",
]
