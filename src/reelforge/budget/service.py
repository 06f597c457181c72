"""The budget service: estimate, reserve, settle, release, and report what was spent.

Built once in :mod:`reelforge.services` and called from workflow steps and features:

- :meth:`BudgetService.estimate_request` / :meth:`~BudgetService.estimate` /
  :meth:`~BudgetService.estimate_plan` price work without calling a provider (dry runs).
- :meth:`~BudgetService.reserve` sets money aside under every scope of a run, atomically: each
  capped scope must have room, or :class:`~reelforge.errors.BudgetExhausted` (402) names the
  first that has not, its cap and what is left, and nothing is written. Idempotent on its key.
- :meth:`~BudgetService.settle` records the real cost (the provider's figure; None: the
  reserved one), with a ``reason`` kept on the reservation when the charge needs one (a call
  that was possibly billed twice); :meth:`~BudgetService.release` gives the money back after a
  failure or cancel.
- :meth:`~BudgetService.record_charge` records a charge the provider has already made (an
  orphaned submission's bill) as a reservation settled at once, with its reason; caps do not
  refuse it, since the money is spent.
- :meth:`~BudgetService.can_afford` and :meth:`~BudgetService.choose_plan` let a feature pick a
  degraded plan instead of failing.

Per-day caps count the reservations made on the current UTC day (a reservation settles into
the day it was made). A cap is never overrun by reservations; a settlement above its estimate
is still recorded (the provider billed it) and later reservations see the overrun.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date
from decimal import Decimal

from reelforge.budget.plans import Plan, PlanEstimate, PlannedJob
from reelforge.budget.price_facts import PriceEntry
from reelforge.budget.prices import JobEstimate, PriceList, PriceTable
from reelforge.budget.records import (
    Affordability,
    BudgetCap,
    CostGroup,
    CostReport,
    LedgerEntry,
    Period,
    Reservation,
    ScopeBalance,
    money,
    usd,
)
from reelforge.budget.repository import BudgetRepository, Decision
from reelforge.budget.scopes import SCOPE_KINDS, BudgetScope, ScopeKind
from reelforge.catalog.repositories import Clock, utc_now
from reelforge.errors import BudgetExhausted, ConfigurationError, Conflict, InvalidInput
from reelforge.log import get_logger
from reelforge.metrics import BudgetMetrics
from reelforge.providers.base import GenerationRequest

__all__ = ["BudgetService"]

log = get_logger(__name__)

_MAX_KEY = 200
_MAX_CAP = Decimal("999999")


def _refusal(balance: ScopeBalance, amount: Decimal) -> BudgetExhausted:
    remaining = balance.remaining_usd
    assert remaining is not None
    assert balance.cap_usd is not None
    left = max(remaining, Decimal(0))
    period = "per day" if balance.period == "day" else "in total"
    return BudgetExhausted(
        f"The budget of {balance.scope} is exhausted: its cap is ${usd(balance.cap_usd)} "
        f"{period} and ${usd(left)} is left; this needs ${usd(amount)}.",
        details={
            "scope": balance.scope.key,
            "scope_kind": balance.scope.kind,
            "scope_id": balance.scope.id,
            "cap_usd": usd(balance.cap_usd),
            "period": balance.period,
            "remaining_usd": usd(left),
            "spent_usd": usd(balance.spent_usd),
            "reserved_usd": usd(balance.reserved_usd),
            "requested_usd": usd(amount),
        },
    )


def _unpriced(balance: ScopeBalance, provider: str, model: str) -> ConfigurationError:
    return ConfigurationError(
        f"No price is known for {provider} {model!r}, and {balance.scope} has a cap: "
        f"set budget.prices.{provider}.{model!r} (or the provider's own prices) first.",
        details={"scope": balance.scope.key, "provider": provider, "model": model},
    )


def _admit_all(balances: Sequence[ScopeBalance]) -> None:
    """A charge already made is recorded whatever the caps say."""


def _reason(reason: str) -> str:
    # The reservation keeps up to 500 characters of it.
    return reason[:500]


class BudgetService:
    """Prices, caps, reservations and the ledger. See the module docstring for the flow."""

    def __init__(
        self,
        repository: BudgetRepository,
        prices: PriceTable,
        *,
        clock: Clock = utc_now,
        metrics: BudgetMetrics | None = None,
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        """``on_refused``: told ``(scope kind, scope id)`` of each refusal (the composition
        root announces it as the ``budget.exhausted`` webhook)."""
        self._repository = repository
        self.on_refused = on_refused
        self._prices = prices
        self._clock = clock
        self._metrics = metrics
        if metrics is not None:
            metrics.expect(SCOPE_KINDS)

    def _refused(self, balance: ScopeBalance, amount: Decimal) -> BudgetExhausted:
        """The refusal, counted: a refusal writes nothing, so each one is a decision of its
        own (a step that runs again and is refused again was refused twice)."""
        if self._metrics is not None:
            self._metrics.refused(balance.scope.kind)
        if self.on_refused is not None:
            self.on_refused(balance.scope.kind, balance.scope.id)
        return _refusal(balance, amount)

    def _today(self) -> date:
        return self._clock().astimezone(UTC).date()

    # -- estimates (never call a provider) ---------------------------------------------------

    def prices(self, provider_id: str | None = None) -> PriceList:
        """The price table: every adapter's facts and the ``budget.prices`` overrides, and the
        providers whose prices could not be listed."""
        return self._prices.price_list(provider_id)

    async def refresh_prices(self, provider_id: str) -> list[PriceEntry]:
        """The only call here that reaches a provider: ask its vendor for current prices and
        keep them, so later estimates read them (see :meth:`PriceTable.refresh`)."""
        return await self._prices.refresh(provider_id)

    def estimate_request(
        self, provider_id: str, request: GenerationRequest, *, label: str | None = None
    ) -> JobEstimate:
        """What ``request`` should cost at ``provider_id``: what a workflow step reserves."""
        return self._prices.estimate(provider_id, request, label=label)

    def estimate(self, plan: Plan | PlannedJob | Sequence[PlannedJob]) -> PlanEstimate:
        """Every job of ``plan`` priced, without scopes."""
        if isinstance(plan, PlannedJob):
            plan = Plan((plan,))
        elif not isinstance(plan, Plan):
            plan = Plan(tuple(plan))
        return PlanEstimate(plan, tuple(self._estimate_job(job) for job in plan.jobs))

    def _estimate_job(self, job: PlannedJob) -> JobEstimate:
        return self._prices.estimate(job.provider, job.query, label=job.label)

    async def estimate_plan(
        self, plan: Plan | PlannedJob | Sequence[PlannedJob], scopes: Sequence[BudgetScope]
    ) -> PlanEstimate:
        """``plan`` priced, with whether every scope can afford its total now (the dry run)."""
        estimate = self.estimate(plan)
        affordability = await self.can_afford(scopes, estimate.total_usd)
        return PlanEstimate(estimate.plan, estimate.jobs, affordability)

    async def choose_plan(
        self, plans: Sequence[Plan], scopes: Sequence[BudgetScope]
    ) -> PlanEstimate:
        """The first of ``plans`` (best first) that every scope can afford now; raises
        BudgetExhausted for the last one when none fits."""
        if not plans:
            raise InvalidInput("choose_plan needs at least one plan.")
        for plan in plans:
            estimate = await self.estimate_plan(plan, scopes)
            if estimate.affordable:
                if plan.degraded:
                    log.info("budget.plan_degraded", plan=plan.name, total=usd(estimate.total_usd))
                return estimate
        assert estimate.affordability is not None
        limiting = estimate.affordability.limiting
        if limiting is None:
            unknown = estimate.unpriced[0]
            capped = next(b for b in estimate.affordability.balances if b.cap_usd is not None)
            raise _unpriced(capped, unknown.provider, unknown.model)
        raise self._refused(limiting, estimate.total_usd)

    async def can_afford(self, scopes: Sequence[BudgetScope], amount: Decimal) -> Affordability:
        """Whether ``amount`` fits every scope now. Advice only: :meth:`reserve` decides."""
        balances = await self._repository.balances(scopes, self._today())
        return Affordability(money(amount), tuple(balances))

    # -- reserve, settle, release ------------------------------------------------------------

    async def reserve(
        self,
        scopes: Sequence[BudgetScope],
        amount: Decimal | None,
        *,
        job_id: str | None,
        provider: str,
        model: str,
        idempotency_key: str,
    ) -> Reservation:
        """Set ``amount`` aside under every scope, or raise BudgetExhausted and write nothing.

        ``amount`` None means the price is unknown: recorded as 0, and refused (with a
        ConfigurationError) when any scope has a cap. The same ``idempotency_key`` again (a
        step re-run after a crash) returns the first reservation."""
        if not 1 <= len(idempotency_key) <= _MAX_KEY:
            raise InvalidInput(f"An idempotency key has 1-{_MAX_KEY} characters.")
        if amount is not None and amount < 0:
            raise InvalidInput("A reservation cannot be negative.", details={"amount": str(amount)})
        needed = Decimal(0) if amount is None else money(amount)

        def admit(balances: Sequence[ScopeBalance]) -> None:
            for balance in balances:
                if balance.cap_usd is None:
                    continue
                if amount is None:
                    raise _unpriced(balance, provider, model)
                if not balance.allows(needed):
                    log.info("budget.refused", scope=balance.scope.key, amount=usd(needed))
                    raise self._refused(balance, needed)

        reservation = await self._repository.reserve(
            scopes=scopes,
            amount=needed,
            job_id=job_id,
            provider=provider,
            model=model,
            idempotency_key=idempotency_key,
            today=self._today(),
            admit=admit,
            note=None if amount is not None else "unpriced",
        )
        log.info(
            "budget.reserved",
            reservation_id=reservation.id,
            job_id=job_id,
            amount=usd(reservation.reserved_usd),
            scopes=[scope.key for scope in reservation.scopes],
        )
        return reservation

    async def reserve_estimate(
        self,
        scopes: Sequence[BudgetScope],
        estimate: JobEstimate,
        *,
        job_id: str | None,
        idempotency_key: str,
    ) -> Reservation:
        """:meth:`reserve` for what :meth:`estimate_request` said."""
        return await self.reserve(
            scopes,
            estimate.amount_usd,
            job_id=job_id,
            provider=estimate.provider,
            model=estimate.model,
            idempotency_key=idempotency_key,
        )

    async def settle(
        self, reservation_id: str, actual: Decimal | None = None, *, reason: str | None = None
    ) -> Reservation:
        """Record what the call really cost: ``actual`` (the provider's figure) or, when it
        reported none, the reserved amount. Settling again with the same figure is a no-op.
        ``reason``: why the charge is recorded this way (kept on the reservation and in the
        ledger line), e.g. a submission that was possibly billed twice."""
        if reason is not None:
            reason = _reason(reason)
        if actual is not None and actual < 0:
            raise InvalidInput("A cost cannot be negative.", details={"actual": str(actual)})

        def decide(reservation: Reservation) -> Decision | None:
            final = reservation.reserved_usd if actual is None else money(actual)
            if reservation.status == "settled":
                if reservation.actual_usd == final:
                    return None
                raise Conflict(
                    f"Reservation {reservation.id} is already settled at "
                    f"${usd(reservation.actual_usd)}.",
                    details={"reservation_id": reservation.id},
                )
            if reservation.status == "released":
                # The provider billed work we had given up on: the ledger must still show it.
                log.warning("budget.settled_after_release", reservation_id=reservation.id)
            note = "reported by the provider" if actual is not None else "estimate (none reported)"
            return "settled", final, note if reason is None else f"{note}; {reason}"

        reservation = await self._repository.close(reservation_id, decide, reason=reason)
        log.info(
            "budget.settled",
            reservation_id=reservation_id,
            reserved=usd(reservation.reserved_usd),
            actual=usd(reservation.actual_usd),
        )
        return reservation

    async def record_charge(
        self,
        scopes: Sequence[BudgetScope],
        amount: Decimal,
        *,
        job_id: str | None,
        provider: str,
        model: str,
        idempotency_key: str,
        reason: str,
    ) -> Reservation:
        """A charge the provider has already made, recorded as a reservation settled at
        ``amount`` in one transaction, with ``reason`` kept on it. No cap refuses it (the money
        is spent; later reservations see it). The same ``idempotency_key`` again returns the
        first record."""
        if not 1 <= len(idempotency_key) <= _MAX_KEY:
            raise InvalidInput(f"An idempotency key has 1-{_MAX_KEY} characters.")
        if amount < 0:
            raise InvalidInput("A charge cannot be negative.", details={"amount": str(amount)})
        reservation = await self._repository.reserve(
            scopes=scopes,
            amount=money(amount),
            job_id=job_id,
            provider=provider,
            model=model,
            idempotency_key=idempotency_key,
            today=self._today(),
            admit=_admit_all,
            settled_reason=_reason(reason),
        )
        log.warning(
            "budget.charge_recorded",
            reservation_id=reservation.id,
            job_id=job_id,
            amount=usd(reservation.reserved_usd),
            reason=reservation.reason,
        )
        return reservation

    async def release(self, reservation_id: str, reason: str) -> Reservation:
        """Give the money back (failure, cancel). A settled or released reservation is left
        as it is: money a provider billed stays spent."""

        def decide(reservation: Reservation) -> Decision | None:
            if reservation.status != "active":
                return None
            return "released", None, reason or "released"

        reservation = await self._repository.close(reservation_id, decide)
        log.info(
            "budget.released",
            reservation_id=reservation_id,
            status=reservation.status,
            reason=reason,
        )
        return reservation

    async def release_job(self, job_id: str, reason: str) -> list[Reservation]:
        """Release every active reservation of ``job_id``: for cancel paths that know the job,
        not the reservation (a canceller in another process)."""
        ids = await self._repository.active_for_job(job_id)
        return [await self.release(reservation_id, reason) for reservation_id in ids]

    async def get_reservation(self, reservation_id: str) -> Reservation:
        return await self._repository.get_reservation(reservation_id)

    # -- caps --------------------------------------------------------------------------------

    async def set_cap(self, scope: BudgetScope, cap_usd: Decimal, period: Period) -> BudgetCap:
        if not Decimal(0) <= cap_usd <= _MAX_CAP:
            raise InvalidInput(f"A cap is between $0 and ${_MAX_CAP}.", details={"field": "cap"})
        cap = await self._repository.set_cap(scope, cap_usd, period)
        log.info("budget.cap_set", scope=scope.key, cap=usd(cap.cap_usd), period=period)
        return cap

    async def remove_cap(self, scope: BudgetScope) -> bool:
        """Make ``scope`` unlimited again (its spending stays in the ledger)."""
        removed = await self._repository.remove_cap(scope)
        log.info("budget.cap_removed", scope=scope.key, removed=removed)
        return removed

    async def get_cap(self, scope: BudgetScope) -> BudgetCap | None:
        return await self._repository.get_cap(scope)

    async def balance(self, scope: BudgetScope) -> ScopeBalance:
        """The scope's cap (if any), spent and reserved money, and what is left."""
        return (await self._repository.balances([scope], self._today()))[0]

    async def balances(self, kind: ScopeKind | None = None) -> list[ScopeBalance]:
        """The balance of every capped scope (of one kind)."""
        caps = await self._repository.list_caps(kind)
        return await self._repository.balances([cap.scope for cap in caps], self._today())

    # -- reports -----------------------------------------------------------------------------

    async def costs(
        self,
        group_by: CostGroup = "provider",
        *,
        scope: BudgetScope | None = None,
        since: date | None = None,
        until: date | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> CostReport:
        """Spent (settled) and reserved money by scope, provider, model or UTC day."""
        return await self._repository.costs(
            group_by, scope=scope, since=since, until=until, provider=provider, model=model
        )

    async def ledger(
        self,
        *,
        reservation_id: str | None = None,
        job_id: str | None = None,
        scope: BudgetScope | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LedgerEntry]:
        return await self._repository.ledger(
            reservation_id=reservation_id, job_id=job_id, scope=scope, limit=limit, offset=offset
        )
