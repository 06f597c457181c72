"""The budget's public API is what each module's ``__all__`` says, and every name exists."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from reelforge.budget.repository import BudgetRepository
from reelforge.catalog import Catalog

MODULES = [
    "reelforge.budget.config",
    "reelforge.budget.scopes",
    "reelforge.budget.records",
    "reelforge.budget.price_facts",
    "reelforge.budget.prices",
    "reelforge.budget.plans",
    "reelforge.budget.service",
    "reelforge.budget.routes",
    "reelforge.budget.tables",
    "reelforge.budget.queries",
    "reelforge.budget.repository",
    "reelforge.cli.costs",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_every_exported_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is exported but missing"


def test_the_service_api_the_engine_calls() -> None:
    service = importlib.import_module("reelforge.budget.service").BudgetService
    for name in (
        "estimate_request",
        "estimate_plan",
        "choose_plan",
        "can_afford",
        "reserve",
        "reserve_estimate",
        "settle",
        "release",
        "release_job",
        "costs",
        "ledger",
    ):
        assert callable(getattr(service, name)), name


async def test_the_budget_builds_its_repository_on_the_catalog(tmp_path: Path) -> None:
    async with Catalog.from_url(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}") as catalog:
        # The catalog holds only the core's repositories and names nothing above it.
        assert not hasattr(catalog, "budget")
        assert isinstance(BudgetRepository.on(catalog), BudgetRepository)
