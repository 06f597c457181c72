"""The small JSON shapes the engine's steps, messages and history entries share.

DBOS records every step result and message in its database, and the catalog keeps every poll
and webhook in the job's history, so provider objects are flattened here, in one place:

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

import json
from collections.abc import Mapping
from typing import Any

from reelforge.catalog.records import JobError
from reelforge.errors import ReelforgeError
from reelforge.providers.base import (
    Canceled,
    Failed,
    JobHandle,
    JobState,
    Queued,
    Running,
    Succeeded,
)

__all__ = [
    "FINAL_STATES",
    "error_payload",
    "handle_from",
    "handle_payload",
    "job_error",
    "metadata_payload",
    "output_refs",
    "state_payload",
]

FINAL_STATES = frozenset({"succeeded", "failed", "canceled"})


def handle_payload(handle: JobHandle) -> dict[str, Any]:
    return {
        "provider": handle.provider,
        "request_id": handle.request_id,
        "model": handle.model,
        "urls": dict(handle.urls),
    }


def handle_from(payload: Mapping[str, Any]) -> JobHandle:
    return JobHandle(
        provider=str(payload["provider"]),
        request_id=str(payload["request_id"]),
        model=str(payload["model"]),
        urls={str(k): str(v) for k, v in dict(payload.get("urls") or {}).items()},
    )


def error_payload(error: ReelforgeError) -> dict[str, Any]:
    return {
        "code": error.code,
        "message": error.message,
        "retryable": error.retryable,
        "retry_after": error.retry_after,
    }


def job_error(payload: Mapping[str, Any]) -> JobError:
    return JobError(
        code=str(payload.get("code", "INTERNAL_ERROR")), message=str(payload.get("message", ""))
    )


def output_refs(result: Succeeded) -> list[dict[str, Any]] | None:
    """The outputs' URLs in order; None if any came as bytes."""
    if any(output.url is None for output in result.outputs):
        return None
    return [{"index": i, "url": output.url} for i, output in enumerate(result.outputs)]


def metadata_payload(result: Succeeded) -> dict[str, Any]:
    meta = result.metadata
    return {
        "model": meta.model,
        "seed": meta.seed,
        "steps": meta.steps,
        "inference_time_ms": meta.inference_time_ms,
        # Vendor facts a feature may need later, in another process (e.g. the Character
        # Library's ids); kept JSON-safe because step results are stored by DBOS.
        "extra": json.loads(json.dumps(dict(meta.extra), default=str)),
    }


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
            "metadata": metadata_payload(state),
        }
    if isinstance(state, Failed):
        return {"state": "failed", "error": error_payload(state.error)}
    if isinstance(state, Canceled):
        return {"state": "canceled", "reason": state.reason}
    raise TypeError(f"not a job state: {state!r}")  # pragma: no cover
