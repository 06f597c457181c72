"""The price table: one view over the adapters' price facts and the ``budget.prices`` overrides.

Pricing a request (:meth:`PriceTable.estimate`) never calls a provider, and needs no prompt or
input image: a request is priced from its parameters (a :class:`PriceQuery`). An override in
``budget.prices.<provider>.<model>`` wins; otherwise the adapter prices the request itself
(``Provider.price``: per image, per megapixel or per second, by resolution and audio where the
vendor prices that way). A request no one can price is *unpriced*: its estimate has no
amount, and the budget refuses it under a capped scope (see the service). The local studio is 0.

One provider's trouble stays that provider's: the settings are checked at start-up
(:mod:`reelforge.providers.settings_check`), and what could still fail when prices are read (an
adapter's price facts that cannot be listed, a price that cannot be computed) leaves that
provider out of the whole price list (:attr:`PriceList.unavailable`, logged) and makes only its
own estimates a ``CONFIGURATION_ERROR``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reelforge.budget.config import BudgetSettings, PriceOverride
from reelforge.budget.price_facts import PriceEntry, adapter_entries, as_of
from reelforge.budget.records import money, usd
from reelforge.errors import ConfigurationError, ReelforgeError
from reelforge.log import exception_text, get_logger
from reelforge.providers.base import CostEstimate, GenerationRequest, PriceQuery
from reelforge.providers.pricing import MAX_PRICE_USD
from reelforge.providers.registry import ProviderRegistry

__all__ = ["JobEstimate", "PriceEntry", "PriceList", "PriceTable", "request_conditions"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class JobEstimate:
    """What one provider call should cost. ``amount_usd`` None: no price is known for it."""

    provider: str
    model: str
    capability: str
    amount_usd: Decimal | None
    basis: str
    source: str
    label: str | None = None

    @property
    def priced(self) -> bool:
        return self.amount_usd is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "provider": self.provider,
            "model": self.model,
            "capability": self.capability,
            "amount_usd": usd(self.amount_usd),
            "priced": self.priced,
            "basis": self.basis,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class PriceList:
    """Every price on record, and the providers whose prices could not be listed (id -> why)."""

    entries: list[PriceEntry]
    unavailable: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"prices": [entry.to_json() for entry in self.entries]}
        if self.unavailable:
            found["unavailable"] = [
                {"provider": provider, "reason": reason}
                for provider, reason in sorted(self.unavailable.items())
            ]
        return found


def request_conditions(request: PriceQuery) -> dict[str, str | bool | None]:
    """What a conditional price may depend on, read from the request and its options."""
    options = request.options
    side = min(request.width, request.height)
    resolution = options.get("resolution")
    if not isinstance(resolution, str):
        resolution = "4k" if side >= 2160 else "1080p" if side >= 1080 else "720p"
    audio = options.get("generate_audio", options.get("audio", False))
    size = options.get("image_size")
    quality = options.get("quality")
    return {
        "resolution": resolution,
        "audio": bool(audio),
        "size": size if isinstance(size, str) else f"{request.width}x{request.height}",
        "quality": quality if isinstance(quality, str) else None,
    }


def _count(request: PriceQuery) -> int:
    names: tuple[str, ...] = ("num_images", "number_of_images", "num_outputs")
    if request.capability.makes_video:
        names = ("number_of_videos", *names)
    for name in names:
        value = request.options.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return 1


def _units(unit: str, request: PriceQuery) -> tuple[Decimal, str]:
    count = _count(request)
    if unit == "second":
        seconds = Decimal(str(request.duration_s or 0))
        return seconds * count, f"{count} x {seconds} second(s)"
    if unit == "megapixel":
        per_image = math.ceil(request.width * request.height / 1_000_000)
        return Decimal(per_image * count), f"{count} x {per_image} megapixel(s), rounded up"
    return Decimal(count), f"{count} image(s)"


def _best(overrides: list[PriceOverride], request: PriceQuery) -> PriceOverride | None:
    wanted = request_conditions(request)
    matching = [
        override
        for override in overrides
        if all(wanted.get(name) == value for name, value in override.conditions.items())
    ]
    return max(matching, key=lambda o: len(o.conditions), default=None)


class PriceTable:
    """Prices requests and lists every known price, from the adapters and the settings."""

    def __init__(self, providers: ProviderRegistry, settings: BudgetSettings) -> None:
        self._providers = providers
        self._settings = settings

    def estimate(
        self,
        provider_id: str,
        request: GenerationRequest | PriceQuery,
        *,
        label: str | None = None,
    ) -> JobEstimate:
        """The cost of ``request`` (or of its parameters alone) at ``provider_id``, without
        calling it. Raises InvalidInput for a request the provider cannot serve, and
        ConfigurationError when its price cannot be computed."""
        if isinstance(request, GenerationRequest):
            request = PriceQuery.of(request)
        try:
            return self._estimate(provider_id, request, label)
        except (ArithmeticError, ValueError) as exc:
            # A price that cannot be computed (an overflow, a bad number): this provider's
            # estimates fail, clearly; every other provider's go on.
            log.error("prices.estimate_failed", provider=provider_id, exception=exception_text(exc))
            raise ConfigurationError(
                f"The price of a {request.capability.value} request at provider "
                f"{provider_id!r} cannot be computed: check its prices in the settings.",
                details={"provider": provider_id, "model": request.model},
            ) from None

    def _estimate(self, provider_id: str, request: PriceQuery, label: str | None) -> JobEstimate:
        adapter = self._providers.get(provider_id)
        capability = request.capability.value
        quoted: CostEstimate | None = None
        try:
            quoted = adapter.price(request)
        except ConfigurationError as exc:
            found = exc.details.get("model")
            model = request.model or str(found or adapter.default_model(request.capability))
            unpriced = exc.message
        else:
            model, unpriced = quoted.model, ""
        override = _best(self._settings.overrides(provider_id, model), request)
        if override is not None:
            units, text = _units(override.unit, request)
            amount = _recordable(override.usd * units)
            basis = f"{text} x ${override.usd}/{override.unit} ({override.source})"
            return JobEstimate(
                provider_id, model, capability, amount, basis, "budget.prices", label
            )
        if quoted is not None:
            amount = _recordable(quoted.amount_usd)
            return JobEstimate(
                provider_id, model, capability, amount, quoted.basis, "adapter", label
            )
        basis = f"{unpriced} Or price it under budget.prices.{provider_id}."
        return JobEstimate(provider_id, model, capability, None, basis, "none", label)

    async def refresh(self, provider_id: str) -> list[PriceEntry]:
        """Ask ``provider_id``'s vendor for its prices now and keep them (the adapter's own
        record); the entries it now holds. InvalidInput for a vendor with no price service."""
        return await self._providers.get(provider_id).refresh_prices()

    def entries(self, provider_id: str | None = None) -> list[PriceEntry]:
        """Every price on record (the adapters' facts, then the overrides, which win)."""
        return self.price_list(provider_id).entries

    def price_list(self, provider_id: str | None = None) -> PriceList:
        """Every price on record; a provider whose facts cannot be listed is left out (and
        named) rather than failing the list. Asked for one provider, its failure is raised."""
        ids = [provider_id] if provider_id is not None else self._providers.ids
        entries: list[PriceEntry] = []
        unavailable: dict[str, str] = {}
        for pid in ids:
            try:
                entries.extend(adapter_entries(self._providers.get(pid)))
            except Exception as exc:
                if provider_id is not None:
                    raise
                unavailable[pid] = _reason(exc)
                log.error(
                    "prices.provider_unavailable", provider=pid, exception=exception_text(exc)
                )
        for pid, models in sorted(self._settings.prices.items()):
            if provider_id is not None and pid != provider_id:
                continue
            for model, found in models.items():
                for override in found if isinstance(found, list) else [found]:
                    entries.append(_override_entry(pid, model, override))
        return PriceList(entries, unavailable)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ReelforgeError):
        return f"{exc.code}: {exc.message}"
    return "its price facts could not be listed (see the log)"


def _recordable(amount: Decimal) -> Decimal:
    """``amount`` at the catalog's precision; ValueError past what the catalog records."""
    value = money(amount)
    if not value < MAX_PRICE_USD:
        raise ValueError("the amount is past what the catalog records")
    return value


def _override_entry(provider_id: str, model: str, override: PriceOverride) -> PriceEntry:
    dated = override.as_of.isoformat() if override.as_of else as_of(override.source)
    conditions: Mapping[str, str | bool] = override.conditions
    return PriceEntry(
        provider=provider_id,
        model=model,
        unit=override.unit,
        usd=override.usd,
        source=override.source,
        origin="budget.prices",
        conditions=conditions,
        as_of=dated,
    )
