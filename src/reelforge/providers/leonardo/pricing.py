"""What a Leonardo request costs: a configured price if there is one, else Leonardo's own quote.

Configured prices (``providers.leonardo.prices``) are keyed by a model id, or ``image`` /
``video`` for any model; quotes come from Leonardo's pricing calculator (:mod:`.quotes`). A
clip's quote is per clip at its resolution (Motion 2.0 makes 480p unless asked for 720p).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from reelforge.errors import ConfigurationError
from reelforge.providers.base import CostEstimate, PriceQuery
from reelforge.providers.leonardo.models import LeonardoOptions, LeonardoPrice, video_seconds
from reelforge.providers.leonardo.quotes import QuoteBook
from reelforge.providers.leonardo.wire import PROVIDER_ID
from reelforge.providers.pricing import PriceEntry, price_entry

__all__ = ["leonardo_price", "leonardo_price_entries"]

_CONFIGURED = "providers.leonardo.prices"
_QUOTED = "leonardo pricing calculator"
_DEFAULT_RESOLUTION = {"MOTION2": "RESOLUTION_480", "MOTION2FAST": "RESOLUTION_480"}


def leonardo_price(
    prices: Mapping[str, LeonardoPrice],
    quotes: QuoteBook,
    query: PriceQuery,
    options: LeonardoOptions,
    model: str,
) -> CostEstimate:
    video = query.capability.makes_video
    price = prices.get(model) or prices.get("video" if video else "image")
    if price is None:
        resolution = (options.resolution or _DEFAULT_RESOLUTION.get(model)) if video else None
        quote = quotes.find(model, resolution)
        if quote is None:
            raise ConfigurationError(
                f"No price is known for Leonardo ({model}): Leonardo prices each generation "
                "itself; run `reelforge costs --refresh --provider leonardo` to ask its pricing "
                "calculator, or set providers.leonardo.prices.image / .video.",
                details={"provider": PROVIDER_ID, "model": model},
            )
        price = LeonardoPrice(
            unit="video" if video else "image", usd=quote.usd, source=quote.source
        )
    if price.unit == "second":
        units = Decimal(video_seconds(model, query.duration_s or 5.0))
    else:
        units = Decimal(1 if video else options.num_images)
    amount = (price.usd * units).quantize(Decimal("0.0001"))
    basis = f"{units} {price.unit}(s) x ${price.usd}/{price.unit} ({price.source})"
    return CostEstimate(provider=PROVIDER_ID, model=model, amount_usd=amount, basis=basis)


def leonardo_price_entries(
    prices: Mapping[str, LeonardoPrice], quotes: QuoteBook
) -> list[PriceEntry]:
    """The configured prices, then the quotes on record."""
    entries = [
        price_entry(PROVIDER_ID, model, price.unit, price.usd, price.source, _CONFIGURED)
        for model, price in prices.items()
    ]
    for quote in quotes.quotes():
        conditions = {} if quote.resolution is None else {"resolution": quote.resolution}
        entries.append(
            price_entry(
                PROVIDER_ID, quote.model, quote.unit, quote.usd, quote.source, _QUOTED, conditions
            )
        )
    return entries
