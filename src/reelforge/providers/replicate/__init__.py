"""Replicate: flux stills through Replicate's predictions API, ``Prefer: wait`` and signed
webhooks.

:mod:`.adapter` is the provider, :mod:`.wire` reads Replicate's answers (states and errors),
:mod:`.models` knows the models' inputs, outputs and prices, :mod:`.signature` checks Standard
Webhooks signatures.
"""

from __future__ import annotations

from reelforge.providers.replicate.adapter import ReplicateProvider, ReplicateSettings
from reelforge.providers.replicate.models import ReplicateOptions, ReplicatePrice
from reelforge.providers.replicate.wire import ReplicateError, parse_prediction, replicate_error

__all__ = [
    "ReplicateError",
    "ReplicateOptions",
    "ReplicatePrice",
    "ReplicateProvider",
    "ReplicateSettings",
    "parse_prediction",
    "replicate_error",
]
