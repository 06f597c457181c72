"""What the budget returns: frozen records with money as :class:`~decimal.Decimal`.

``to_json`` gives each record's public shape, money as decimal strings (never floats). The
closed vocabularies (periods, reservation statuses, ledger kinds) are shared with the tables'
checks in :mod:`reelforge.budget.tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from reelforge.budget.scopes import BudgetScope

__all__ = [
    "COST_GROUPS",
    "LEDGER_KINDS",
    "MONEY_QUANTUM",
    "PERIODS",
    "RESERVATION_STATUSES",
    "Affordability",
    "BudgetCap",
    "CostGroup",
    "CostReport",
    "CostRow",
    "LedgerEntry",
    "LedgerKind",
    "Period",
    "Reservation",
    "ReservationStatus",
    "ScopeBalance",
    "money",
    "usd",
]

Period = Literal["total", "day"]
ReservationStatus = Literal["active", "settled", "released"]
LedgerKind = Literal["reserve", "settle", "release"]
CostGroup = Literal["scope", "provider", "model", "day"]
PERIODS: tuple[Period, ...] = get_args(Period)
RESERVATION_STATUSES: tuple[ReservationStatus, ...] = get_args(ReservationStatus)
LEDGER_KINDS: tuple[LedgerKind, ...] = get_args(LedgerKind)
COST_GROUPS: tuple[CostGroup, ...] = get_args(CostGroup)

#: The catalog keeps money to the micro-dollar (``Numeric(12, 6)``).
MONEY_QUANTUM = Decimal("0.000001")


def money(value: Decimal) -> Decimal:
    """``value`` at the catalog's precision."""
    return value.quantize(MONEY_QUANTUM)


def usd(value: Decimal | None) -> str | None:
    """Money for JSON: a plain decimal string without trailing zeros past the cents."""
    if value is None:
        return None
    text = format(money(value).normalize(), "f")
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


@dataclass(frozen=True, slots=True)
class BudgetCap:
    """A cap on a scope's spending, over all time (``total``) or per UTC day (``day``)."""

    scope: BudgetScope
    cap_usd: Decimal
    period: Period
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope.kind,
            "id": self.scope.id,
            "cap_usd": usd(self.cap_usd),
            "period": self.period,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money set aside for one provider call; ``charged_usd`` is what counts against caps:
    the reserved amount while active, the actual cost once settled, zero once released."""

    id: str
    idempotency_key: str
    scopes: tuple[BudgetScope, ...]
    job_id: str | None
    provider: str
    model: str
    status: ReservationStatus
    reserved_usd: Decimal
    actual_usd: Decimal | None
    charged_usd: Decimal
    day: date
    reserved_at: datetime
    closed_at: datetime | None
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "idempotency_key": self.idempotency_key,
            "scopes": [scope.key for scope in self.scopes],
            "job_id": self.job_id,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "reserved_usd": usd(self.reserved_usd),
            "actual_usd": usd(self.actual_usd),
            "charged_usd": usd(self.charged_usd),
            "day": self.day.isoformat(),
            "reserved_at": self.reserved_at.isoformat(),
            "closed_at": None if self.closed_at is None else self.closed_at.isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One append-only line of the ledger: a reserve, a settle or a release."""

    id: int
    at: datetime
    kind: LedgerKind
    reservation_id: str
    scopes: tuple[str, ...]
    job_id: str | None
    provider: str
    model: str
    amount_usd: Decimal
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "reservation_id": self.reservation_id,
            "scopes": list(self.scopes),
            "job_id": self.job_id,
            "provider": self.provider,
            "model": self.model,
            "amount_usd": usd(self.amount_usd),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class ScopeBalance:
    """A scope's standing in its current period. No cap: ``cap_usd`` and ``remaining_usd`` are
    None (unlimited) and the figures are over all time."""

    scope: BudgetScope
    cap_usd: Decimal | None
    period: Period | None
    spent_usd: Decimal
    reserved_usd: Decimal
    day: date | None = None

    @property
    def remaining_usd(self) -> Decimal | None:
        if self.cap_usd is None:
            return None
        return self.cap_usd - self.spent_usd - self.reserved_usd

    def allows(self, amount: Decimal) -> bool:
        remaining = self.remaining_usd
        return remaining is None or amount <= 0 or amount <= remaining

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope.kind,
            "id": self.scope.id,
            "cap_usd": usd(self.cap_usd),
            "period": self.period,
            "day": None if self.day is None else self.day.isoformat(),
            "spent_usd": usd(self.spent_usd),
            "reserved_usd": usd(self.reserved_usd),
            "remaining_usd": usd(self.remaining_usd),
        }


@dataclass(frozen=True, slots=True)
class Affordability:
    """Whether ``amount_usd`` fits every scope now; ``limiting`` is the first that refuses."""

    amount_usd: Decimal
    balances: tuple[ScopeBalance, ...]

    @property
    def limiting(self) -> ScopeBalance | None:
        return next((b for b in self.balances if not b.allows(self.amount_usd)), None)

    @property
    def affordable(self) -> bool:
        return self.limiting is None

    def to_json(self) -> dict[str, Any]:
        limiting = self.limiting
        return {
            "amount_usd": usd(self.amount_usd),
            "affordable": limiting is None,
            "limiting_scope": None if limiting is None else limiting.scope.key,
            "remaining_by_scope": [balance.to_json() for balance in self.balances],
        }


@dataclass(frozen=True, slots=True)
class CostRow:
    """Spending of one group: settled (``spent``) and still reserved, and how many calls."""

    key: str
    spent_usd: Decimal
    reserved_usd: Decimal
    reservations: int
    provider: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "provider": self.provider,
            "spent_usd": usd(self.spent_usd),
            "reserved_usd": usd(self.reserved_usd),
            "reservations": self.reservations,
        }


@dataclass(frozen=True, slots=True)
class CostReport:
    """``GET /v1/costs``: rows by ``group_by``, and the totals over the same filter."""

    group_by: CostGroup
    rows: tuple[CostRow, ...]
    spent_usd: Decimal
    reserved_usd: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "group_by": self.group_by,
            "rows": [row.to_json() for row in self.rows],
            "total": {"spent_usd": usd(self.spent_usd), "reserved_usd": usd(self.reserved_usd)},
        }
