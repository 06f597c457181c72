"""Callbacks for submissions the catalog never recorded, and the charges they reveal.

Our webhook URLs name the job and attempt (``?job=...&attempt=...``), so a verified callback
whose request id no job holds can still be traced. :meth:`Orphans.stray` tells the webhook
inbox what it is:

- ``adopt``: the attempt is inside its submit window (an intent, nothing accepted): the
  callback is kept in the job's history, where the submit step's recovery adopts it;
- ``orphan``: the attempt did send a submission, but the job went on without it (submitted
  again after waiting, or retried): if the provider finished it, it billed it, and the charge
  is recorded for the job (:meth:`Orphans.charge_orphan`: a reservation settled at once at the
  provider's figure, else the estimate, its reason saying "billed twice").

Both sides of the race between a callback and the step that accepts another submission look:
the step after recording its acceptance, the inbox after recording an adoption
(:meth:`Orphans.charge_strays`); a charge is recorded once per request id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reelforge.catalog import Catalog
from reelforge.engine.charges import JobCharges
from reelforge.engine.intents import Adoption, Stray, SubmitHistory
from reelforge.errors import NotFound
from reelforge.log import get_logger

__all__ = ["Orphans", "adoption_of"]

log = get_logger(__name__)


class Orphans:
    """Stray callbacks told apart, and orphaned submissions' charges recorded."""

    def __init__(self, catalog: Catalog, charges: JobCharges) -> None:
        self._catalog = catalog
        self._charges = charges

    async def stray(
        self, provider_id: str, job_id: str, attempt: int, request_id: str
    ) -> Stray | None:
        """What a verified callback from ``provider_id`` with a request id no job holds is,
        when its URL names ``job_id`` and ``attempt`` (see :meth:`SubmitHistory.stray`);
        None when that is no job of this provider's that sent such an attempt."""
        try:
            job = await self._catalog.jobs.get(job_id)
        except NotFound:
            return None
        if job.provider != provider_id:
            return None
        history = SubmitHistory(await self._catalog.jobs.events(job_id))
        return history.stray(attempt, job.is_terminal, request_id)

    async def adopted(self, job_id: str, attempt: int) -> None:
        """After an adoption was recorded: if the attempt meanwhile accepted another
        submission, the adopted one is an orphan."""
        history = SubmitHistory(await self._catalog.jobs.events(job_id))
        accepted = history.accepted(attempt)
        if accepted is not None:
            await self.charge_strays(job_id, attempt, accepted.submission.handle.request_id)

    async def charge_strays(self, job_id: str, attempt: int, accepted_request_id: str) -> None:
        """Charge every adopted callback of ``attempt`` that finished a submission other than
        the one the attempt accepted."""
        history = SubmitHistory(await self._catalog.jobs.events(job_id))
        for adoption in history.adoptions(attempt):
            if adoption.request_id != accepted_request_id and adoption.state == "succeeded":
                cost = None if adoption.cost_usd is None else Decimal(adoption.cost_usd)
                await self.charge_orphan(job_id, attempt, adoption.request_id, cost)

    async def charge_orphan(
        self, job_id: str, attempt: int, request_id: str, reported: Decimal | None
    ) -> bool:
        """Record what the provider billed for ``request_id``, a finished submission of the
        job's ``attempt`` that the job went on without; whether a charge was recorded (none
        without a budget)."""
        history = SubmitHistory(await self._catalog.jobs.events(job_id))
        intent = history.intent(attempt)
        if intent is None:
            return False
        reason = (
            f"billed twice: request {request_id} of attempt {attempt} ran at the provider, "
            "but the job went on without it (its submit was cut off)"
        )
        charge = await self._charges.orphan(
            job_id, intent.reservation_id, request_id, reported, reason
        )
        log.warning("job.orphan_charged", job_id=job_id, request_id=request_id)
        return charge is not None


def adoption_of(attempt: int, request_id: str, state: dict[str, Any]) -> Adoption:
    """The history entry of a callback (``state`` as :func:`state_payload` shapes it) adopted
    into ``attempt``'s window."""
    cost = state.get("cost_usd")
    return Adoption(
        attempt, request_id, str(state.get("state")), None if cost is None else str(cost)
    )
