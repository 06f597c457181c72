"""What a job's history says about its submit window: intents, failed calls, adoptions.

The submit step records an *intent* before it calls the provider, and the acceptance (the
``running`` status event, with the handle) after. Between the two the provider may have
accepted a submission we never heard of: a crash, or a call that failed after sending. These
history entries (``job_events``, kind ``note`` or ``webhook``: the kinds the table allows) are
what a re-run of the step, and the webhook inbox, read to tell what happened:

- ``note`` ``{"intent": {"attempt", "try", "reservation_id", "webhook_url", "at"}}``: about to
  send try ``try`` of ``attempt`` (a try is one submission; a new one follows a submission
  that was lost), its money set aside under ``reservation_id``, at ``at`` (epoch seconds);
- ``note`` ``{"submit_failed": {"attempt", "try", "error", "uncertain"}}``: the call failed;
  ``uncertain``: after the request may have reached the provider (a timeout, a dropped
  connection);
- ``webhook`` ``{"adopt": {"attempt", "request_id", "state", "cost_usd"}, ...}``: a callback for a
  request id we never recorded, whose URL named this job while its attempt was in the window;
- the ``running`` status event's ``detail``: the accepted :class:`Submission`, its ``try``
  and, for a provider that answered synchronously, its stored ``result``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reelforge.catalog.records import JobEventRecord
from reelforge.engine.outcomes import Fetched, StepError, Submission

__all__ = ["Accepted", "Adoption", "SubmitFailure", "SubmitHistory", "SubmitIntent"]

Stray = Literal["adopt", "orphan"]


@dataclass(frozen=True, slots=True)
class SubmitIntent:
    """Try ``try_number`` of ``attempt`` was about to be sent at ``at``."""

    attempt: int
    try_number: int
    reservation_id: str | None
    webhook_url: str | None
    at: float

    def payload(self) -> dict[str, Any]:
        return {
            "intent": {
                "attempt": self.attempt,
                "try": self.try_number,
                "reservation_id": self.reservation_id,
                "webhook_url": self.webhook_url,
                "at": self.at,
            }
        }


@dataclass(frozen=True, slots=True)
class SubmitFailure:
    """The call of try ``try_number`` of ``attempt`` failed with ``error``."""

    attempt: int
    try_number: int
    error: StepError
    uncertain: bool

    def payload(self) -> dict[str, Any]:
        return {
            "submit_failed": {
                "attempt": self.attempt,
                "try": self.try_number,
                "error": self.error.checkpoint(),
                "uncertain": self.uncertain,
            }
        }


@dataclass(frozen=True, slots=True)
class Adoption:
    """A callback for ``request_id`` that named this job's ``attempt`` in its window; ``state``
    as the callback reported it, ``cost_usd`` the provider's figure if it gave one."""

    attempt: int
    request_id: str
    state: str
    cost_usd: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "adopt": {
                "attempt": self.attempt,
                "request_id": self.request_id,
                "state": self.state,
                "cost_usd": self.cost_usd,
            }
        }


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the provider accepted for an attempt, by which try, and a synchronous result."""

    submission: Submission
    try_number: int
    result: Fetched | None


class SubmitHistory:
    """A job's history, read for its submit windows."""

    def __init__(self, events: Sequence[JobEventRecord]) -> None:
        self._intents: list[SubmitIntent] = []
        self._failures: dict[tuple[int, int], SubmitFailure] = {}
        self._adoptions: list[Adoption] = []
        self._accepted: list[Accepted] = []
        for event in events:
            self._read(event)

    def _read(self, event: JobEventRecord) -> None:
        payload = event.payload
        if event.kind == "note":
            intent = payload.get("intent")
            if isinstance(intent, dict):
                self._intents.append(_intent(intent))
            failed = payload.get("submit_failed")
            if isinstance(failed, dict):
                failure = SubmitFailure(
                    int(failed["attempt"]),
                    int(failed.get("try", 0)),
                    StepError.model_validate(failed.get("error") or {}),
                    bool(failed.get("uncertain")),
                )
                self._failures[(failure.attempt, failure.try_number)] = failure
        elif event.kind == "webhook":
            adopt = payload.get("adopt")
            if isinstance(adopt, dict):
                self._adoptions.append(
                    Adoption(
                        int(adopt["attempt"]),
                        str(adopt["request_id"]),
                        str(adopt.get("state") or "unknown"),
                        adopt.get("cost_usd"),
                    )
                )
        elif event.kind == "status" and event.status == "running":
            detail = payload.get("detail")
            if isinstance(detail, dict) and "handle" in detail:
                result = detail.get("result")
                self._accepted.append(
                    Accepted(
                        Submission.model_validate(detail),
                        int(detail.get("try", 0)),
                        None if result is None else Fetched.model_validate(result),
                    )
                )

    def intent(self, attempt: int) -> SubmitIntent | None:
        """The attempt's latest intent."""
        found = [i for i in self._intents if i.attempt == attempt]
        return found[-1] if found else None

    def first_intent(self, attempt: int) -> SubmitIntent | None:
        return next((i for i in self._intents if i.attempt == attempt), None)

    def accepted(self, attempt: int) -> Accepted | None:
        """What the provider accepted for ``attempt`` (the latest record of it)."""
        found = [a for a in self._accepted if a.submission.attempt == attempt]
        return found[-1] if found else None

    def failure(self, attempt: int, try_number: int) -> SubmitFailure | None:
        return self._failures.get((attempt, try_number))

    def adoptions(self, attempt: int) -> list[Adoption]:
        """Callbacks that named ``attempt`` in its window, oldest first, one per request."""
        seen: dict[str, Adoption] = {}
        for adoption in self._adoptions:
            if adoption.attempt == attempt:
                # A later callback of the same request knows more (its final state).
                seen[adoption.request_id] = adoption
        return list(seen.values())

    def request_ids(self) -> set[str]:
        """Every request id this job's attempts had accepted."""
        return {a.submission.handle.request_id for a in self._accepted}

    def stray(self, attempt: int, terminal: bool, request_id: str) -> Stray | None:
        """What a callback naming ``attempt`` with a request id the job had not recorded when
        the callback was looked up is: ``adopt`` while the attempt is in its submit window
        (its latest intent is the job's latest, nothing accepted for it yet, the job not
        ended); ``orphan`` when the attempt did send something but the job went on without
        it; None when the job never sent it, or has since recorded that very request (the
        callback raced the submit step: it is the job's own)."""
        if self.first_intent(attempt) is None or request_id in self.request_ids():
            return None
        latest = self._intents[-1]
        if not terminal and latest.attempt == attempt and self.accepted(attempt) is None:
            return "adopt"
        return "orphan"


def _intent(raw: dict[str, Any]) -> SubmitIntent:
    reservation = raw.get("reservation_id")
    webhook = raw.get("webhook_url")
    return SubmitIntent(
        attempt=int(raw["attempt"]),
        try_number=int(raw.get("try", 0)),
        reservation_id=None if reservation is None else str(reservation),
        webhook_url=None if webhook is None else str(webhook),
        at=float(raw["at"]),
    )
