"""The adapters' own price facts, read where each adapter keeps them, as one list of entries.

Nothing here is a second copy of a price: each figure comes from the adapter's table
(``providers/<id>/models.py``) or its ``providers.<id>.prices`` settings, with the source the
adapter recorded, and rates that vary with the request (fal's Veo 3.1 by audio and 4k, Runway's
gen4_image at 720p) are asked of the adapter's own ``price_for``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reelforge.providers.base import Provider
from reelforge.providers.character_library import CharacterLibrarySettings
from reelforge.providers.fal import FalSettings
from reelforge.providers.fal import models as fal_models
from reelforge.providers.google import GoogleSettings
from reelforge.providers.google import models as google_models
from reelforge.providers.leonardo import LeonardoSettings
from reelforge.providers.replicate import ReplicateSettings
from reelforge.providers.replicate import models as replicate_models
from reelforge.providers.runway import RunwaySettings
from reelforge.providers.runway import models as runway_models

__all__ = ["PriceEntry", "adapter_entries", "as_of"]

_DATE = re.compile(
    r"\b(\d{4}-\d{2}-\d{2}|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{4}"
    r"|(?:19|20)\d{2})\b"
)


def as_of(source: str) -> str | None:
    """The first date a source text names (``2026-10-07``, ``May 2026``, ``2025``), if any."""
    found = _DATE.search(source)
    return found.group(1) if found else None


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """One line of the price table: USD per unit, when it applies, and where it comes from."""

    provider: str
    model: str
    unit: str
    usd: Decimal
    source: str
    origin: str
    conditions: Mapping[str, str | bool] = field(default_factory=dict)
    as_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "unit": self.unit,
            "usd": format(self.usd.normalize(), "f"),
            "conditions": dict(self.conditions),
            "source": self.source,
            "as_of": self.as_of,
            "origin": self.origin,
        }


def _entry(
    provider: str,
    model: str,
    unit: str,
    usd: Decimal,
    source: str,
    origin: str,
    conditions: Mapping[str, str | bool] | None = None,
) -> PriceEntry:
    return PriceEntry(provider, model, unit, usd, source, origin, conditions or {}, as_of(source))


def _local(_adapter: Provider) -> Iterable[PriceEntry]:
    yield _entry("local", "*", "any", Decimal(0), "runs on this machine", "built-in")


def _fal(adapter: Provider) -> Iterable[PriceEntry]:
    for model, fact in fal_models.PRICE_FACTS.items():
        if model != "fal-ai/veo3.1":
            yield _entry("fal", model, fact.unit, fact.usd, fact.source, "built-in")
            continue
        for audio in (False, True):
            for resolution in ("720p", "4k"):
                arguments = {"generate_audio": audio, "resolution": resolution}
                variant = fal_models.price_for(model, arguments, {})
                assert variant is not None
                label = "720p/1080p" if resolution == "720p" else resolution
                conditions: dict[str, str | bool] = {"audio": audio, "resolution": label}
                yield _entry(
                    "fal", model, variant.unit, variant.usd, variant.source, "built-in", conditions
                )
    if isinstance(adapter.settings, FalSettings):
        for model, price in adapter.settings.prices.items():
            yield _entry("fal", model, price.unit, price.usd, price.source, "providers.fal.prices")


def _replicate(adapter: Provider) -> Iterable[PriceEntry]:
    facts = [(m, f, "built-in") for m, f in replicate_models.PRICE_FACTS.items()]
    if isinstance(adapter.settings, ReplicateSettings):
        facts += [(m, f, "providers.replicate.prices") for m, f in adapter.settings.prices.items()]
    for model, fact, origin in facts:
        yield _entry("replicate", model, fact.unit, fact.usd, fact.source, origin)


def _runway(adapter: Provider) -> Iterable[PriceEntry]:
    settings = adapter.settings
    credit_usd = settings.credit_usd if isinstance(settings, RunwaySettings) else Decimal("0.01")
    facts: list[tuple[str, runway_models.RunwayPrice, str, dict[str, str | bool]]] = [
        (m, f, "built-in", {}) for m, f in runway_models.CREDIT_FACTS.items()
    ]
    at_720p = runway_models.price_for("gen4_image", {"ratio": "1280:720"}, {})
    if at_720p is not None:
        facts.append(("gen4_image", at_720p, "built-in", {"resolution": "720p"}))
    if isinstance(settings, RunwaySettings):
        facts += [(m, f, "providers.runway.prices", {}) for m, f in settings.prices.items()]
    for model, fact, origin, conditions in facts:
        source = f"{fact.credits} credits x ${credit_usd}/credit; {fact.source}"
        usd = fact.credits * credit_usd
        yield _entry("runway", model, fact.unit, usd, source, origin, conditions)


def _google(adapter: Provider) -> Iterable[PriceEntry]:
    facts = [(m, f, "built-in") for m, f in google_models.PRICE_FACTS.items()]
    if isinstance(adapter.settings, GoogleSettings):
        facts += [(m, f, "providers.google.prices") for m, f in adapter.settings.prices.items()]
    for model, fact, origin in facts:
        yield _entry("google", model, fact.unit, fact.usd, fact.source, origin)


def _leonardo(adapter: Provider) -> Iterable[PriceEntry]:
    if isinstance(adapter.settings, LeonardoSettings):
        for model, price in adapter.settings.prices.items():
            origin = "providers.leonardo.prices"
            yield _entry("leonardo", model, price.unit, price.usd, price.source, origin)


def _character_library(adapter: Provider) -> Iterable[PriceEntry]:
    settings = adapter.settings
    if isinstance(settings, CharacterLibrarySettings):
        yield _entry(
            "character_library",
            "*",
            "image",
            settings.price_per_image_usd,
            settings.price_source,
            "providers.character_library.price_per_image_usd",
        )


_READERS: Mapping[str, Callable[[Provider], Iterable[PriceEntry]]] = {
    "local": _local,
    "fal": _fal,
    "replicate": _replicate,
    "runway": _runway,
    "google": _google,
    "leonardo": _leonardo,
    "character_library": _character_library,
}


def adapter_entries(adapter: Provider) -> list[PriceEntry]:
    """The price facts ``adapter`` holds (none for a provider this module does not know)."""
    reader = _READERS.get(adapter.id)
    return [] if reader is None else list(reader(adapter))
