"""The budget's tables, and their rows as records.

They live beside the budget, not in the catalog, so that the budget is one piece and the catalog
names nothing above it; they share the catalog's ``Base``, and :mod:`reelforge.schema` lists
this module among the tables that migrations and the schema test load.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reelforge.budget.records import (
    LEDGER_KINDS,
    PERIODS,
    RESERVATION_STATUSES,
    BudgetCap,
    LedgerEntry,
    LedgerKind,
    Period,
    Reservation,
    ReservationStatus,
    money,
)
from reelforge.budget.scopes import BudgetScope, ScopeKind
from reelforge.catalog.models import Base, EventId, JsonDocument, Money, new_id

__all__ = [
    "BudgetCapRow",
    "BudgetLedgerRow",
    "ReservationRow",
    "ScopeRow",
    "cap_record",
    "ledger_record",
    "reservation_record",
]


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class BudgetCapRow(Base):
    """A scope's cap. Its row is also the lock that serialises the scope's reservations."""

    __tablename__ = "budget_caps"
    __table_args__ = (
        CheckConstraint(_one_of("period", PERIODS), name="period"),
        CheckConstraint("cap_usd >= 0", name="cap_usd"),
    )

    scope_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    cap_usd: Mapped[Decimal] = mapped_column(Money)
    period: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReservationRow(Base):
    """Money set aside for one call; ``charged_usd`` is what counts against the caps."""

    __tablename__ = "budget_reservations"
    __table_args__ = (
        CheckConstraint(_one_of("status", RESERVATION_STATUSES), name="status"),
        CheckConstraint("reserved_usd >= 0", name="reserved_usd"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    job_id: Mapped[str | None] = mapped_column(String(64), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    reserved_usd: Mapped[Decimal] = mapped_column(Money)
    actual_usd: Mapped[Decimal | None] = mapped_column(Money)
    charged_usd: Mapped[Decimal] = mapped_column(Money)
    day: Mapped[date] = mapped_column(Date, index=True)
    reserved_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(500))


class ScopeRow(Base):
    """One scope a reservation is charged to."""

    __tablename__ = "budget_reservation_scopes"
    __table_args__ = (Index("ix_budget_reservation_scopes_scope", "scope_kind", "scope_id"),)

    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("budget_reservations.id", ondelete="CASCADE"), primary_key=True
    )
    scope_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_id: Mapped[str] = mapped_column(String(300), primary_key=True)


class BudgetLedgerRow(Base):
    """One append-only ledger line. Nothing updates or deletes these rows."""

    __tablename__ = "budget_ledger"
    __table_args__ = (CheckConstraint(_one_of("kind", LEDGER_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reservation_id: Mapped[str] = mapped_column(ForeignKey("budget_reservations.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JsonDocument)
    job_id: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    amount_usd: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(String(500))


def cap_record(row: BudgetCapRow) -> BudgetCap:
    return BudgetCap(
        scope=BudgetScope(cast(ScopeKind, row.scope_kind), row.scope_id),
        cap_usd=money(row.cap_usd),
        period=cast(Period, row.period),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def reservation_record(row: ReservationRow, scopes: Sequence[BudgetScope]) -> Reservation:
    return Reservation(
        id=row.id,
        idempotency_key=row.idempotency_key,
        scopes=tuple(sorted(scopes)),
        job_id=row.job_id,
        provider=row.provider,
        model=row.model,
        status=cast(ReservationStatus, row.status),
        reserved_usd=money(row.reserved_usd),
        actual_usd=None if row.actual_usd is None else money(row.actual_usd),
        charged_usd=money(row.charged_usd),
        day=row.day,
        reserved_at=row.reserved_at,
        closed_at=row.closed_at,
        reason=row.reason,
    )


def ledger_record(row: BudgetLedgerRow) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        at=row.at,
        kind=cast(LedgerKind, row.kind),
        reservation_id=row.reservation_id,
        scopes=tuple(row.scopes),
        job_id=row.job_id,
        provider=row.provider,
        model=row.model,
        amount_usd=money(row.amount_usd),
        note=row.note,
    )
