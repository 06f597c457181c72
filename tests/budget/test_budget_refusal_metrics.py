"""Budget refusals are counted by the kind of scope whose cap refused; every kind shows at 0
from the start (the metrics' ``reelforge_budget_refusals_total``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget.budget_support import wire_budget
from fixtures import database as database_fixtures
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import Catalog
from reelforge.errors import BudgetExhausted
from reelforge.metrics import Metrics

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url
catalog = database_fixtures.catalog

EPISODE = BudgetScope("episode", "e-1")


def _refusals(metrics: Metrics) -> dict[str, float]:
    text = metrics.exposition().decode()
    return {
        sample.labels["scope_kind"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "reelforge_budget_refusals_total"
    }


async def test_refusals_are_counted_by_scope_kind(catalog: Catalog, tmp_path: Path) -> None:
    metrics = Metrics()
    async with httpx.AsyncClient() as http:
        wired = wire_budget(catalog, http, tmp_dir=tmp_path / "data", metrics=metrics.budget)
        assert set(_refusals(metrics).values()) == {0.0}
        await wired.budget.set_cap(EPISODE, Decimal("0.10"), "total")
        for key in ("k1", "k1-again"):
            with pytest.raises(BudgetExhausted):
                await wired.budget.reserve(
                    [EPISODE],
                    Decimal("0.25"),
                    job_id="job-1",
                    provider="fal",
                    model="fal-ai/flux/dev",
                    idempotency_key=key,
                )
    refusals = _refusals(metrics)
    assert refusals.pop("episode") == 2.0
    assert set(refusals) == {"project", "game_session", "campaign", "user"}
    assert set(refusals.values()) == {0.0}
