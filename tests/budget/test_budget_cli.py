"""``reelforge costs`` over a seeded catalog, run in this process through Typer's runner."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import Result

from fixtures.cli import run_reelforge
from reelforge.budget.scopes import BudgetScope
from reelforge.services import open_services
from reelforge.settings import Settings

pytestmark = pytest.mark.usefixtures("restored_logging")


def costs(*args: str, cwd: Path) -> Result:
    assert Path.cwd() == cwd  # conftest runs each test in its tmp_path, where seeded writes
    return run_reelforge("costs", *args)


@pytest.fixture
async def seeded(tmp_path: Path) -> Path:
    (tmp_path / "reelforge.toml").write_text(f'data_dir = "{tmp_path / "data"}"\n')
    async with open_services(Settings(), environ={}) as services:
        budget = services.budget
        project = BudgetScope("project", "p-7")
        await budget.set_cap(project, Decimal("2"), "total")
        spent = await budget.reserve(
            [project],
            Decimal("0.25"),
            job_id="j1",
            provider="fal",
            model="fal-ai/flux/dev",
            idempotency_key="j1",
        )
        await budget.settle(spent.id, Decimal("0.30"))
        await budget.reserve(
            [project],
            Decimal("0.40"),
            job_id="j2",
            provider="google",
            model="veo",
            idempotency_key="j2",
        )
    return tmp_path


def test_costs_by_provider(seeded: Path) -> None:
    result = costs("--json", cwd=seeded)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [(r["key"], r["spent_usd"], r["reserved_usd"]) for r in report["rows"]] == [
        ("fal", "0.30", "0.00"),
        ("google", "0.00", "0.40"),
    ]
    table = costs("--by", "scope", cwd=seeded)
    assert table.exit_code == 0, table.stderr
    assert "project:p-7" in table.stdout
    assert "0.70" not in table.stdout  # spent and reserved stay apart


def test_costs_budgets_ledger_and_prices(seeded: Path) -> None:
    budgets = json.loads(costs("--budgets", "--json", cwd=seeded).stdout)["budgets"]
    assert [(b["id"], b["cap_usd"], b["remaining_usd"]) for b in budgets] == [
        ("p-7", "2.00", "1.30")
    ]
    ledger = json.loads(costs("--ledger", "--scope", "project:p-7", "--json", cwd=seeded).stdout)
    assert [e["kind"] for e in ledger["entries"]] == ["reserve", "settle", "reserve"]
    prices = costs("--prices", "--provider", "fal", cwd=seeded)
    assert prices.exit_code == 0, prices.stderr
    assert "fal-ai/flux/dev" in prices.stdout
    assert "May 2026" in prices.stdout


def test_a_bad_scope_is_an_error(seeded: Path) -> None:
    result = costs("--scope", "p-7", cwd=seeded)
    assert result.exit_code == 1
    assert "INVALID_INPUT" in result.stderr
