"""The ``budget`` settings section: price overrides, each with its source and date.

``budget.prices.<provider>.<model>`` is one price or a list of prices for the same model that
differ by what the request asks for (``resolution``, ``audio``, ``size``, ``quality``); the
most specific entry that matches the request wins. ``<model>`` may be ``"*"``: any model of that
provider. An override wins over the adapter's own price facts. Example (``reelforge.toml``)::

    [budget.prices.acme."acme/still-v2"]
    per_image_usd = "0.025"
    source = "acme.example/pricing"
    as_of = 2026-05-01

    [[budget.prices.acme."acme/clip-v3"]]
    per_second_usd = "0.40"
    audio = true
    [[budget.prices.acme."acme/clip-v3"]]
    per_second_usd = "0.60"
    audio = true
    resolution = "4k"

Money is a decimal string in TOML and JSON (never a float).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MAX_PRICE_USD", "BudgetSettings", "PriceOverride", "PriceUnit"]

PriceUnit = Literal["image", "megapixel", "second"]
#: A price per unit is below this: the catalog records amounts under $1,000,000. The same bound
#: as ``reelforge.providers.pricing.MAX_PRICE_USD``, which a settings section may not import.
MAX_PRICE_USD = Decimal(1_000_000)


class PriceOverride(BaseModel):
    """One configured price: exactly one of the ``per_*_usd`` rates, and optional conditions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_image_usd: Decimal | None = Field(default=None, ge=0, lt=MAX_PRICE_USD)
    per_megapixel_usd: Decimal | None = Field(default=None, ge=0, lt=MAX_PRICE_USD)
    per_second_usd: Decimal | None = Field(default=None, ge=0, lt=MAX_PRICE_USD)
    resolution: str | None = Field(
        default=None, description="Applies only to requests at this resolution (720p, 1080p, 4k)"
    )
    audio: bool | None = Field(default=None, description="Applies only with / without audio")
    size: str | None = Field(default=None, description="Applies only at this size (WxH)")
    quality: str | None = Field(default=None, description="Applies only at this quality option")
    source: str = "settings: budget.prices"
    as_of: date | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> PriceOverride:
        rates = [self.per_image_usd, self.per_megapixel_usd, self.per_second_usd]
        if sum(rate is not None for rate in rates) != 1:
            raise ValueError("give exactly one of per_image_usd, per_megapixel_usd, per_second_usd")
        return self

    @property
    def unit(self) -> PriceUnit:
        if self.per_image_usd is not None:
            return "image"
        return "megapixel" if self.per_megapixel_usd is not None else "second"

    @property
    def usd(self) -> Decimal:
        rates = (self.per_image_usd, self.per_megapixel_usd, self.per_second_usd)
        return next(rate for rate in rates if rate is not None)

    @property
    def conditions(self) -> dict[str, str | bool]:
        values = {
            "resolution": self.resolution,
            "audio": self.audio,
            "size": self.size,
            "quality": self.quality,
        }
        return {name: value for name, value in values.items() if value is not None}


class BudgetSettings(BaseModel):
    """``budget``: price overrides by provider and model (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    prices: dict[str, dict[str, PriceOverride | list[PriceOverride]]] = Field(
        default_factory=dict, description="budget.prices.<provider>.<model>: price(s) in USD"
    )

    def overrides(self, provider: str, model: str) -> list[PriceOverride]:
        """The configured prices for ``model`` (exact id first, else the provider's ``*``)."""
        by_model = self.prices.get(provider, {})
        found = by_model.get(model, by_model.get("*"))
        if found is None:
            return []
        return list(found) if isinstance(found, list) else [found]
