"""What a provider job costs, through the budget: reserve before submit, settle, release.

The engine's steps call these; without a budget service they only work out the job's cost.
Reservations are keyed by job and attempt, so a step that runs again after a crash finds its
first reservation instead of taking another.
"""

from __future__ import annotations

from decimal import Decimal

from reelforge.budget.scopes import BudgetScope
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.engine.outcomes import Submission
from reelforge.engine.requests import recorded_submission
from reelforge.engine.specs import JobSpec
from reelforge.errors import ConfigurationError
from reelforge.providers.base import GenerationRequest

__all__ = ["JobCharges"]


class JobCharges:
    """A job's money: what is set aside for it, and what it finally cost."""

    def __init__(self, budget: BudgetService | None, catalog: Catalog) -> None:
        self._budget = budget
        self._catalog = catalog

    async def reserve(
        self, job_id: str, spec: JobSpec, request: GenerationRequest, attempt: int
    ) -> str | None:
        """Set the job's price aside under its budget scopes before anything is sent; raises
        BudgetExhausted (nothing sent, nothing reserved) when a cap cannot cover it."""
        budget = self._budget
        if budget is None:
            return None
        scopes = [BudgetScope.parse(key) for key in spec.budget_scopes]
        key = f"{job_id}:{attempt}"
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
