"""The small JSON shapes the engine's steps, messages and history entries share.

DBOS records every step result and message in its database, and the catalog keeps every poll
and webhook in the job's history, so provider objects are flattened here, in one place (the
typed values they are read back into are in :mod:`reelforge.engine.outcomes`):

- a *handle*: ``{"provider", "request_id", "model", "urls"}`` (no secret: URLs only);
- a *state*: ``{"state": "queued"|"running"|"succeeded"|"failed"|"canceled"|"unknown", ...}``
  with ``position`` / ``progress`` while waiting, ``error`` when failed (``unknown``: the
  provider could not be asked this time) and, when succeeded, the ``outputs`` as
  ``[{"index", "url"}]`` (None when an output came as inline bytes, which must be fetched in a
  step of their own), ``cost_usd`` and ``metadata``: a poll or a webhook that saw the result
  saves the workflow fetching it again;
- an *error*: ``{"code", "message", "retryable", "retry_after"}``, from a Reelforge error.
"""

from __future__ import annotations

from typing import Any

from reelforge.engine.outcomes import ResultMetadata, StepError
from reelforge.providers.base import (
    Canceled,
    Failed,
    JobState,
    Queued,
    Running,
    Succeeded,
)

__all__ = ["output_refs", "state_payload"]


def output_refs(result: Succeeded) -> list[dict[str, Any]] | None:
    """The outputs' URLs in order; None if any came as bytes."""
    if any(output.url is None for output in result.outputs):
        return None
    return [{"index": i, "url": output.url} for i, output in enumerate(result.outputs)]


def state_payload(state: JobState) -> dict[str, Any]:
    if isinstance(state, Queued):
        return {"state": "queued", "position": state.position}
    if isinstance(state, Running):
        return {"state": "running", "progress": state.progress}
    if isinstance(state, Succeeded):
        return {
            "state": "succeeded",
            "outputs": output_refs(state),
            "cost_usd": None if state.cost_usd is None else str(state.cost_usd),
            "metadata": ResultMetadata.of(state).checkpoint(),
        }
    if isinstance(state, Failed):
        return {"state": "failed", "error": StepError.of(state.error).checkpoint()}
    if isinstance(state, Canceled):
        return {"state": "canceled", "reason": state.reason}
    raise TypeError(f"not a job state: {state!r}")  # pragma: no cover
