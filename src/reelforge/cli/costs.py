"""``reelforge costs``: what was spent (by scope, provider, model or day), the budgets, the
ledger and the price table. Reads the catalog only; needs no engine.

    reelforge costs                          # spent and reserved, by provider
    reelforge costs --by day --since 2026-05-01 --scope project:p-7
    reelforge costs --budgets                # every capped scope: cap, spent, left
    reelforge costs --ledger --scope user:ana
    reelforge costs --prices [--provider fal]
    reelforge costs --refresh --provider leonardo   # ask the vendor's own price service
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reelforge.budget.records import CostGroup
from reelforge.cli.common import console, fail_on_error, load_settings, print_json

if TYPE_CHECKING:
    from rich.table import Table

    from reelforge.budget.scopes import BudgetScope
    from reelforge.budget.service import BudgetService

__all__ = ["costs"]


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def costs(
    by: Annotated[CostGroup, typer.Option("--by", help="scope|provider|model|day")] = "provider",
    scope: Annotated[str | None, typer.Option(help="Only this scope, KIND:ID")] = None,
    since: Annotated[str | None, typer.Option(help="First UTC day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="Last UTC day, YYYY-MM-DD")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model")] = None,
    prices: Annotated[bool, typer.Option("--prices", help="Show the price table")] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Ask --provider's vendor for its current prices, keep them, show them",
        ),
    ] = False,
    budgets: Annotated[bool, typer.Option("--budgets", help="Show every capped scope")] = False,
    ledger: Annotated[bool, typer.Option("--ledger", help="Show the ledger's entries")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Ledger entries to show")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """What generation cost: spent (settled) and still reserved, budgets, ledger, prices."""
    import asyncio

    from reelforge.budget.scopes import BudgetScope
    from reelforge.services import open_services

    settings = load_settings()
    first, last = _date(since), _date(until)
    if refresh and provider is None:
        raise typer.BadParameter("--refresh needs --provider (e.g. --provider leonardo)")

    async def run() -> dict[str, Any]:
        async with open_services(settings) as services:
            budget = services.budget
            target = None if scope is None else BudgetScope.parse(scope)
            if refresh:
                assert provider is not None
                await budget.refresh_prices(provider)
                return budget.prices(provider).to_json()
            if prices:
                return budget.prices(provider).to_json()
            if budgets:
                return await _budgets(budget, target)
            if ledger:
                entries = await budget.ledger(scope=target, limit=limit)
                return {"entries": [entry.to_json() for entry in entries]}
            report = await budget.costs(
                by, scope=target, since=first, until=last, provider=provider, model=model
            )
            return report.to_json()

    with fail_on_error():
        result = asyncio.run(run())
    if as_json:
        print_json(result)
    else:
        console.print(_table(result))


async def _budgets(budget: BudgetService, scope: BudgetScope | None) -> dict[str, Any]:
    balances = [await budget.balance(scope)] if scope is not None else await budget.balances()
    return {"budgets": [balance.to_json() for balance in balances]}


def _table(result: dict[str, Any]) -> Table:
    from rich.table import Table

    if "prices" in result:
        table = Table("provider", "model", "unit", "usd", "when", "source", "as of")
        for p in result["prices"]:
            when = ", ".join(f"{k}={v}" for k, v in p["conditions"].items())
            table.add_row(
                p["provider"], p["model"], p["unit"], p["usd"], when, p["source"], p["as_of"] or ""
            )
        return table
    if "budgets" in result:
        table = Table("scope", "cap", "period", "spent", "reserved", "left")
        for b in result["budgets"]:
            table.add_row(
                f"{b['scope']}:{b['id']}",
                b["cap_usd"] or "none",
                b["period"] or "",
                b["spent_usd"],
                b["reserved_usd"],
                b["remaining_usd"] or "unlimited",
            )
        return table
    if "entries" in result:
        table = Table("at", "kind", "amount", "provider", "model", "job", "scopes", "note")
        for e in result["entries"]:
            table.add_row(
                e["at"][:19],
                e["kind"],
                e["amount_usd"],
                e["provider"],
                e["model"],
                e["job_id"] or "",
                " ".join(e["scopes"]),
                e["note"] or "",
            )
        return table
    table = Table(result["group_by"], "spent", "reserved", "calls")
    for row in result["rows"]:
        key = f"{row['provider']} {row['key']}" if result["group_by"] == "model" else row["key"]
        table.add_row(key, row["spent_usd"], row["reserved_usd"], str(row["reservations"]))
    total = result["total"]
    table.add_row("total", total["spent_usd"], total["reserved_usd"], "", style="bold")
    return table
