"""Helpers of the budget tests: a budget service over a catalog, and a clock to move.

Imported as ``budget.budget_support`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from reelforge.budget.prices import PriceTable
from reelforge.budget.repository import BudgetRepository
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.metrics import BudgetMetrics
from reelforge.providers.base import Capability, GenerationRequest, ProviderDeps
from reelforge.providers.registry import ProviderRegistry
from reelforge.settings import Settings

__all__ = ["MovableClock", "Wired", "still", "usd", "wire_budget"]


def usd(text: str) -> Decimal:
    return Decimal(text)


class MovableClock:
    """A UTC clock the test moves (per-day caps)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Wired:
    budget: BudgetService
    providers: ProviderRegistry


def wire_budget(
    catalog: Catalog,
    http: httpx.AsyncClient,
    *,
    tmp_dir: Any,
    budget: Mapping[str, Any] | None = None,
    providers: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    clock: MovableClock | None = None,
    metrics: BudgetMetrics | None = None,
) -> Wired:
    """The budget service as the composition root builds it, over ``catalog``."""
    settings = Settings(
        data_dir=tmp_dir,
        budget=dict(budget or {}),
        providers=dict(providers or {}),
    )
    registry = ProviderRegistry(settings, ProviderDeps(http=http, environ=dict(environ or {})))
    table = PriceTable(registry, settings.budget)
    service = BudgetService(
        BudgetRepository.on(catalog), table, clock=clock or MovableClock(), metrics=metrics
    )
    return Wired(service, registry)


def still(width: int = 1024, height: int = 1024, **options: Any) -> GenerationRequest:
    return GenerationRequest(
        Capability.TEXT_TO_IMAGE,
        "a lighthouse at dawn",
        width=width,
        height=height,
        options=options,
    )
