"""Caps, reservations and the ledger, with the locking that keeps caps true under concurrency.

:meth:`BudgetRepository.reserve` is one write transaction. On PostgreSQL it locks the cap rows of
every capped scope with ``SELECT ... FOR UPDATE`` in (kind, id) order, so concurrent reservations
on overlapping scopes queue up instead of deadlocking, and each reads the sums its predecessor
committed (READ COMMITTED takes a fresh snapshot per statement, after the lock is granted). On
SQLite the transaction starts as ``BEGIN IMMEDIATE`` and holds the only write lock. Settle and
release take the same cap locks first, since they change the sums too. Scopes without a cap
need no lock: nothing is checked against them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import cast

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from reelforge.budget.queries import (
    charged_to,
    cost_report,
    is_scope,
    sum_where,
)
from reelforge.budget.records import (
    COST_GROUPS,
    PERIODS,
    BudgetCap,
    CostGroup,
    CostReport,
    LedgerEntry,
    LedgerKind,
    Period,
    Reservation,
    ReservationStatus,
    ScopeBalance,
    money,
)
from reelforge.budget.scopes import BudgetScope, ScopeKind
from reelforge.budget.tables import (
    BudgetCapRow,
    BudgetLedgerRow,
    ReservationRow,
    ScopeRow,
    cap_record,
    ledger_record,
    reservation_record,
)
from reelforge.catalog.models import new_id
from reelforge.catalog.repositories._base import (
    Repository,
    check_choice,
    check_page,
    retry_on_conflict,
)
from reelforge.errors import Conflict, NotFound

__all__ = ["Admit", "BudgetRepository", "Decision"]

#: Judges the locked balances of a reservation's scopes; raises to refuse it.
Admit = Callable[[Sequence[ScopeBalance]], None]
#: A settle or release: the new status, the actual cost (None: released) and the ledger note.
Decision = tuple[ReservationStatus, Decimal | None, str]
_ZERO = Decimal(0)


class BudgetRepository(Repository):
    """Caps, reservations and the ledger. Reservations are the only way spending is recorded."""

    # -- caps --------------------------------------------------------------------------------

    async def get_cap(self, scope: BudgetScope) -> BudgetCap | None:
        async with self._read() as session:
            row = await session.get(BudgetCapRow, (scope.kind, scope.id))
            return None if row is None else cap_record(row)

    async def list_caps(self, kind: ScopeKind | None = None) -> list[BudgetCap]:
        query = select(BudgetCapRow).order_by(BudgetCapRow.scope_kind, BudgetCapRow.scope_id)
        if kind is not None:
            query = query.where(BudgetCapRow.scope_kind == kind)
        async with self._read() as session:
            return [cap_record(row) for row in (await session.scalars(query)).all()]

    async def set_cap(self, scope: BudgetScope, cap_usd: Decimal, period: Period) -> BudgetCap:
        """Create or replace the cap of ``scope`` (a race on creation is retried)."""
        check_choice(period, PERIODS, "period")

        async def attempt() -> BudgetCap:
            now = self._now()
            async with self._write() as session:
                row = await session.get(BudgetCapRow, (scope.kind, scope.id), with_for_update=True)
                if row is None:
                    row = BudgetCapRow(
                        scope_kind=scope.kind, scope_id=scope.id, created_at=now, updated_at=now
                    )
                    session.add(row)
                row.cap_usd, row.period, row.updated_at = money(cap_usd), period, now
                await session.flush()
                return cap_record(row)

        return await retry_on_conflict(attempt)

    async def remove_cap(self, scope: BudgetScope) -> bool:
        async with self._write() as session:
            row = await session.get(BudgetCapRow, (scope.kind, scope.id), with_for_update=True)
            if row is None:
                return False
            await session.delete(row)
            return True

    async def balances(self, scopes: Sequence[BudgetScope], today: date) -> list[ScopeBalance]:
        """Each scope's spent and reserved money in its current period, in (kind, id) order."""
        async with self._read() as session:
            caps = await self._caps(session, scopes, lock=False)
            return await self._balances(session, sorted(set(scopes)), caps, today)

    # -- reservations ------------------------------------------------------------------------

    async def reserve(
        self,
        *,
        scopes: Sequence[BudgetScope],
        amount: Decimal,
        job_id: str | None,
        provider: str,
        model: str,
        idempotency_key: str,
        today: date,
        admit: Admit,
        note: str | None = None,
        settled_reason: str | None = None,
    ) -> Reservation:
        """Lock the caps, let ``admit`` judge the balances (it raises to refuse), then record.

        The same ``idempotency_key`` again returns the first reservation unchanged. With
        ``settled_reason`` the reservation is settled at ``amount`` in the same transaction,
        that reason kept on it (a charge the provider already made)."""
        ordered = sorted(set(scopes))

        async def attempt() -> Reservation:
            now = self._now()
            async with self._write() as session:
                caps = await self._caps(session, ordered, lock=True)
                existing = await session.scalar(
                    select(ReservationRow).where(ReservationRow.idempotency_key == idempotency_key)
                )
                if existing is not None:
                    scopes_before = await self._scopes_of(session, existing.id)
                    return reservation_record(existing, scopes_before)
                admit(await self._balances(session, ordered, caps, today))
                row = ReservationRow(
                    id=new_id(),
                    idempotency_key=idempotency_key,
                    job_id=job_id,
                    provider=provider,
                    model=model,
                    status="active",
                    reserved_usd=money(amount),
                    charged_usd=money(amount),
                    day=today,
                    reserved_at=now,
                )
                session.add(row)
                await session.flush()
                session.add_all(
                    ScopeRow(reservation_id=row.id, scope_kind=s.kind, scope_id=s.id)
                    for s in ordered
                )
                self._log(session, row, ordered, "reserve", row.reserved_usd, note)
                if settled_reason is not None:
                    row.status, row.actual_usd, row.closed_at = "settled", row.reserved_usd, now
                    row.reason = settled_reason
                    self._log(session, row, ordered, "settle", row.reserved_usd, settled_reason)
                await session.flush()
                return reservation_record(row, ordered)

        reservation = await retry_on_conflict(attempt)
        if (reservation.job_id, reservation.provider, reservation.model) != (
            job_id,
            provider,
            model,
        ):
            raise Conflict(
                "This idempotency key already reserved money for another call.",
                details={"idempotency_key": idempotency_key, "reservation_id": reservation.id},
            )
        return reservation

    async def close(
        self,
        reservation_id: str,
        change: Callable[[Reservation], Decision | None],
        *,
        reason: str | None = None,
    ) -> Reservation:
        """Settle or release: ``change`` sees the locked reservation and returns its new status,
        actual cost and ledger note, or None to leave it as it is (a repeated call). A release
        keeps its note as the reservation's reason; a settlement keeps ``reason`` if given."""
        async with self._write() as session:
            scopes = await self._scopes_of(session, reservation_id)
            await self._caps(session, scopes, lock=True)
            row = await session.get(ReservationRow, reservation_id, with_for_update=True)
            if row is None:
                raise NotFound(f"No budget reservation {reservation_id!r}.")
            decision = change(reservation_record(row, scopes))
            if decision is None:
                return reservation_record(row, scopes)
            status, actual, note = decision
            actual = None if actual is None else money(actual)
            row.status, row.actual_usd, row.closed_at = status, actual, self._now()
            row.charged_usd = _ZERO if actual is None else actual
            if status == "released":
                row.reason = note
            elif reason is not None:
                row.reason = reason
            kind: LedgerKind = "settle" if status == "settled" else "release"
            amount = row.reserved_usd if actual is None else actual
            self._log(session, row, scopes, kind, amount, note)
            await session.flush()
            return reservation_record(row, scopes)

    async def get_reservation(self, reservation_id: str) -> Reservation:
        async with self._read() as session:
            row = await session.get(ReservationRow, reservation_id)
            if row is None:
                raise NotFound(f"No budget reservation {reservation_id!r}.")
            return reservation_record(row, await self._scopes_of(session, reservation_id))

    async def active_for_job(self, job_id: str) -> list[str]:
        """The ids of ``job_id``'s reservations that are still active, oldest first."""
        query = (
            select(ReservationRow.id)
            .where(ReservationRow.job_id == job_id, ReservationRow.status == "active")
            .order_by(ReservationRow.reserved_at, ReservationRow.id)
        )
        async with self._read() as session:
            return list((await session.scalars(query)).all())

    # -- reading -----------------------------------------------------------------------------

    async def ledger(
        self,
        *,
        reservation_id: str | None = None,
        job_id: str | None = None,
        scope: BudgetScope | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LedgerEntry]:
        """Ledger lines, oldest first."""
        check_page(limit, offset)
        query = select(BudgetLedgerRow).order_by(BudgetLedgerRow.id).limit(limit).offset(offset)
        if reservation_id is not None:
            query = query.where(BudgetLedgerRow.reservation_id == reservation_id)
        if job_id is not None:
            query = query.where(BudgetLedgerRow.job_id == job_id)
        if scope is not None:
            query = query.where(BudgetLedgerRow.reservation_id.in_(charged_to(scope)))
        async with self._read() as session:
            return [ledger_record(row) for row in (await session.scalars(query)).all()]

    async def costs(
        self,
        group_by: CostGroup,
        *,
        scope: BudgetScope | None = None,
        since: date | None = None,
        until: date | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> CostReport:
        """Settled and still-reserved money by ``group_by``; released reservations count 0."""
        check_choice(group_by, COST_GROUPS, "group_by")
        async with self._read() as session:
            return await cost_report(
                session,
                group_by,
                scope=scope,
                since=since,
                until=until,
                provider=provider,
                model=model,
            )

    # -- plumbing ----------------------------------------------------------------------------

    async def _caps(
        self, session: AsyncSession, scopes: Sequence[BudgetScope], *, lock: bool
    ) -> dict[BudgetScope, BudgetCapRow]:
        if not scopes:
            return {}
        columns = (BudgetCapRow.scope_kind, BudgetCapRow.scope_id)
        query = (
            select(BudgetCapRow)
            .where(or_(*(is_scope(columns, scope) for scope in scopes)))
            .order_by(*columns)
        )
        if lock:
            query = query.with_for_update()
        rows = (await session.scalars(query)).all()
        return {BudgetScope(cast(ScopeKind, r.scope_kind), r.scope_id): r for r in rows}

    async def _balances(
        self,
        session: AsyncSession,
        scopes: Sequence[BudgetScope],
        caps: dict[BudgetScope, BudgetCapRow],
        today: date,
    ) -> list[ScopeBalance]:
        if not scopes:
            return []
        columns = (ScopeRow.scope_kind, ScopeRow.scope_id)
        wanted = []
        for scope in scopes:
            condition = is_scope(columns, scope)
            cap = caps.get(scope)
            if cap is not None and cap.period == "day":
                condition = and_(condition, ReservationRow.day == today)
            wanted.append(condition)
        query = (
            select(
                *columns,
                sum_where(ReservationRow.status == "settled"),
                sum_where(ReservationRow.status == "active"),
            )
            .join(ReservationRow, ReservationRow.id == ScopeRow.reservation_id)
            .where(or_(*wanted), ReservationRow.status != "released")
            .group_by(*columns)
        )
        sums = {(r[0], r[1]): (r[2], r[3]) for r in (await session.execute(query)).all()}
        balances = []
        for scope in scopes:
            cap = caps.get(scope)
            spent, held = sums.get((scope.kind, scope.id), (_ZERO, _ZERO))
            daily = cap is not None and cap.period == "day"
            balances.append(
                ScopeBalance(
                    scope=scope,
                    cap_usd=None if cap is None else money(cap.cap_usd),
                    period=None if cap is None else cast(Period, cap.period),
                    spent_usd=money(spent),
                    reserved_usd=money(held),
                    day=today if daily else None,
                )
            )
        return balances

    async def _scopes_of(self, session: AsyncSession, reservation_id: str) -> list[BudgetScope]:
        rows = (
            await session.execute(
                select(ScopeRow.scope_kind, ScopeRow.scope_id).where(
                    ScopeRow.reservation_id == reservation_id
                )
            )
        ).all()
        return sorted(BudgetScope(cast(ScopeKind, kind), scope_id) for kind, scope_id in rows)

    def _log(
        self,
        session: AsyncSession,
        row: ReservationRow,
        scopes: Sequence[BudgetScope],
        kind: LedgerKind,
        amount: Decimal,
        note: str | None,
    ) -> None:
        session.add(
            BudgetLedgerRow(
                at=self._now(),
                kind=kind,
                reservation_id=row.id,
                scopes=[scope.key for scope in scopes],
                job_id=row.job_id,
                provider=row.provider,
                model=row.model,
                amount_usd=money(amount),
                note=None if note is None else note[:500],
            )
        )
