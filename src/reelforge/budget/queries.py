"""The budget's SQL expressions: scope matches, sums of charged money, the cost report."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from reelforge.budget.records import CostGroup, CostReport, CostRow, money
from reelforge.budget.scopes import BudgetScope
from reelforge.budget.tables import ReservationRow, ScopeRow
from reelforge.catalog.models import Money

__all__ = ["charged_to", "cost_report", "is_scope", "sum_where"]


def is_scope(columns: tuple[Any, Any], scope: BudgetScope) -> ColumnElement[bool]:
    """``columns`` (kind, id) name ``scope``."""
    return and_(columns[0] == scope.kind, columns[1] == scope.id)


def sum_where(condition: ColumnElement[bool]) -> ColumnElement[Decimal]:
    """The charged money of the reservations that meet ``condition`` (0 when none)."""
    total = func.coalesce(func.sum(case((condition, ReservationRow.charged_usd), else_=0)), 0)
    return type_coerce(total, Money)


def charged_to(scope: BudgetScope) -> Select[Any]:
    """The ids of the reservations charged to ``scope``."""
    return select(ScopeRow.reservation_id).where(
        is_scope((ScopeRow.scope_kind, ScopeRow.scope_id), scope)
    )


def _filters(
    scope: BudgetScope | None,
    since: date | None,
    until: date | None,
    provider: str | None,
    model: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [ReservationRow.status != "released"]
    if since is not None:
        conditions.append(ReservationRow.day >= since)
    if until is not None:
        conditions.append(ReservationRow.day <= until)
    if provider is not None:
        conditions.append(ReservationRow.provider == provider)
    if model is not None:
        conditions.append(ReservationRow.model == model)
    if scope is not None:
        conditions.append(ReservationRow.id.in_(charged_to(scope)))
    return conditions


async def cost_report(
    session: AsyncSession,
    group_by: CostGroup,
    *,
    scope: BudgetScope | None,
    since: date | None,
    until: date | None,
    provider: str | None,
    model: str | None,
) -> CostReport:
    """Settled (spent) and active (reserved) money by ``group_by``, and the totals. A
    reservation charged to several scopes appears under each when grouped by scope, once in
    the totals."""
    spent = sum_where(ReservationRow.status == "settled")
    held = sum_where(ReservationRow.status == "active")
    conditions = _filters(scope, since, until, provider, model)
    by: dict[CostGroup, list[Any]] = {
        "scope": [ScopeRow.scope_kind, ScopeRow.scope_id],
        "provider": [ReservationRow.provider],
        "model": [ReservationRow.provider, ReservationRow.model],
        "day": [ReservationRow.day],
    }
    keys = by[group_by]
    grouped = select(*keys, spent, held, func.count(ReservationRow.id)).where(*conditions)
    if group_by == "scope":
        grouped = grouped.join(ScopeRow, ScopeRow.reservation_id == ReservationRow.id)
    grouped = grouped.group_by(*keys).order_by(*keys)
    rows = (await session.execute(grouped)).all()
    totals = (await session.execute(select(spent, held).where(*conditions))).one()
    report = []
    for row in rows:
        parts = [part.isoformat() if isinstance(part, date) else str(part) for part in row[:-3]]
        report.append(
            CostRow(
                key=":".join(parts) if group_by == "scope" else parts[-1],
                spent_usd=money(row[-3]),
                reserved_usd=money(row[-2]),
                reservations=int(row[-1]),
                provider=parts[0] if group_by in ("provider", "model") else None,
            )
        )
    return CostReport(
        group_by=group_by,
        rows=tuple(report),
        spent_usd=money(totals[0]),
        reserved_usd=money(totals[1]),
    )
