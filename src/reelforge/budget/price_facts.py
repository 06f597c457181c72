"""The adapters' own price facts, as the price table lists them.

Nothing here is a second copy of a price, and nothing here knows a provider: each adapter lists
the prices it holds (``Provider.price_entries``: its built-in table with the source it recorded,
request-dependent rates spelled out with their conditions, and what its ``providers.<id>``
settings add). :class:`PriceEntry` and :func:`as_of` live with the providers
(:mod:`reelforge.providers.pricing`); they are named here for the budget's readers.
"""

from __future__ import annotations

from reelforge.providers.base import Provider
from reelforge.providers.pricing import PriceEntry, as_of

__all__ = ["PriceEntry", "adapter_entries", "as_of"]


def adapter_entries(adapter: Provider) -> list[PriceEntry]:
    """The price facts ``adapter`` holds."""
    return adapter.price_entries()
