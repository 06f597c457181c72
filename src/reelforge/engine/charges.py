"""What a provider job costs, through the budget: reserve before submit, settle, release.

The engine's steps call these; without a budget service they only work out the job's cost.
Reservations are keyed by job, attempt and try, so a step that runs again after a crash finds
its first reservation instead of taking another. A submission that may have been billed
although its result was lost is settled at the estimate, never released; a submission the
provider billed but the job went on without (an orphan) is recorded as a charge of its own.
"""

from __future__ import annotations

from decimal import Decimal

from reelforge.budget.records import Reservation
from reelforge.budget.scopes import BudgetScope
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.engine.outcomes import Submission
from reelforge.engine.requests import recorded_submission
from reelforge.engine.specs import JobSpec
from reelforge.errors import ConfigurationError, Conflict
from reelforge.providers.base import GenerationRequest

__all__ = ["JobCharges"]


class JobCharges:
    """A job's money: what is set aside for it, and what it finally cost."""

    def __init__(self, budget: BudgetService | None, catalog: Catalog) -> None:
        self._budget = budget
        self._catalog = catalog

    async def reserve(
        self,
        job_id: str,
        spec: JobSpec,
        request: GenerationRequest,
        attempt: int,
        try_number: int = 0,
    ) -> str | None:
        """Set the job's price aside under its budget scopes before anything is sent; raises
        BudgetExhausted (nothing sent, nothing reserved) when a cap cannot cover it."""
        budget = self._budget
        if budget is None:
            return None
        scopes = [BudgetScope.parse(key) for key in spec.budget_scopes]
        key = f"{job_id}:{attempt}" if try_number == 0 else f"{job_id}:{attempt}:{try_number}"
        try:
            estimate = budget.estimate_request(spec.provider, request, label=spec.label)
        except ConfigurationError:
            # No price on record for this model: recorded at 0, refused where a cap applies.
            model = request.model or spec.model or "unknown"
            reservation = await budget.reserve(
                scopes,
                None,
                job_id=job_id,
                provider=spec.provider,
                model=model,
                idempotency_key=key,
            )
        else:
            reservation = await budget.reserve_estimate(
                scopes, estimate, job_id=job_id, idempotency_key=key
            )
        return reservation.id

    async def settle(
        self, job_id: str, reported: Decimal | None, submitted: Submission | None = None
    ) -> Decimal | None:
        """The job's final cost: settled by the budget at the provider's figure (else the
        reservation); without a budget, that figure or the estimate made at submit.
        ``submitted``: what submit recorded for the attempt; read from the history if not given."""
        if submitted is None:
            submitted = recorded_submission(await self._catalog.jobs.events(job_id), None)
        reservation_id = None if submitted is None else submitted.reservation_id
        if self._budget is None or reservation_id is None:
            if reported is not None:
                return reported
            estimate = None if submitted is None else submitted.estimate_usd
            return Decimal(estimate) if estimate is not None else None
        return (await self._budget.settle(reservation_id, reported)).actual_usd

    async def release(self, job_id: str, reason: str) -> None:
        """Give back whatever is still set aside for the job (failure, retry, cancel)."""
        if self._budget is not None:
            await self._budget.release_job(job_id, reason)

    async def possibly_billed(self, reservation_id: str | None, reason: str) -> None:
        """Settle a submission that may have been billed (its result lost) at the reserved
        estimate, with ``reason``: spent, never given back at $0."""
        if self._budget is None or reservation_id is None:
            return
        try:
            await self._budget.settle(reservation_id, None, reason=reason)
        except Conflict:
            # Already settled at another figure: what was recorded stands.
            return

    async def orphan(
        self,
        job_id: str,
        reservation_id: str | None,
        request_id: str,
        reported: Decimal | None,
        reason: str,
    ) -> Reservation | None:
        """Record what the provider billed for ``request_id``, a submission of the job that it
        went on without: the provider's figure, else what ``reservation_id`` (the submission's
        own reservation) set aside, under the same scopes. Once per request id."""
        if self._budget is None or reservation_id is None:
            return None
        first = await self._budget.get_reservation(reservation_id)
        return await self._budget.record_charge(
            first.scopes,
            first.reserved_usd if reported is None else reported,
            job_id=job_id,
            provider=first.provider,
            model=first.model,
            idempotency_key=f"orphan:{first.provider}:{request_id}"[:200],
            reason=reason,
        )
