"""Price facts as the price table lists them: one :class:`PriceEntry` per price an adapter holds.

Each adapter lists its own (``Provider.price_entries``: its built-in table, with the source it
recorded, and the prices its settings add); the budget's price table shows them beside the
``budget.prices`` overrides. :func:`as_of` reads the date a source text names. A configured price
is below :data:`MAX_PRICE_USD` per unit (the catalog records amounts below it), checked with the
settings at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["MAX_PRICE_USD", "PriceEntry", "as_of", "price_entry"]

#: Every configured price per unit is below this: the catalog records amounts under $1,000,000.
MAX_PRICE_USD = Decimal(1_000_000)

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


def price_entry(
    provider: str,
    model: str,
    unit: str,
    usd: Decimal,
    source: str,
    origin: str,
    conditions: Mapping[str, str | bool] | None = None,
) -> PriceEntry:
    """An entry whose date is read from its source text."""
    return PriceEntry(provider, model, unit, usd, source, origin, conditions or {}, as_of(source))
