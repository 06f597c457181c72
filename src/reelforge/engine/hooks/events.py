"""The events a webhook can carry: a closed vocabulary, and the event as a typed value.

``run.completed`` (a run ended ``succeeded`` or ``partial``), ``run.failed``, ``run.canceled``,
``job.failed`` (a job's final failure, after its retries), ``cutscene.ready`` (a cutscene's
last stage ended with its media) and ``budget.exhausted`` (a capped scope refused a
reservation; once a scope a day). A run's events go to its ``callback_url`` and to the
subscriptions of its project; ``budget.exhausted`` to the project's subscriptions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

__all__ = ["HOOK_EVENT_TYPES", "HookEvent", "HookEventType", "run_event_type"]

HookEventType = Literal[
    "run.completed",
    "run.failed",
    "run.canceled",
    "job.failed",
    "cutscene.ready",
    "budget.exhausted",
]
HOOK_EVENT_TYPES: tuple[str, ...] = get_args(HookEventType)


class HookEvent(BaseModel):
    """One event to deliver. ``key`` makes it once: announcing it again delivers nothing new."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: HookEventType
    key: str
    at: datetime
    project_id: str | None = None
    run_id: str | None = None
    data: dict[str, Any]

    def body(self) -> dict[str, Any]:
        """The JSON body, in the Standard Webhooks shape: type, timestamp, data."""
        return {"type": self.type, "timestamp": self.at.isoformat(), "data": self.data}


def run_event_type(status: str) -> HookEventType:
    """The event a run's final status makes."""
    if status == "canceled":
        return "run.canceled"
    return "run.failed" if status == "failed" else "run.completed"
