"""What every adapter that looks a submission up shares: comparing what was sent, and time.

An adapter whose vendor documents a listing of past jobs (fal, Replicate, Leonardo) implements
:meth:`~reelforge.providers.base.Provider.find_submissions` in its package's ``lookup.py``, with
these rules in common:

- A job matches only if the vendor's record of its input is *exactly* what the adapter would send
  for the request (:func:`same_json`: key order and ``1`` / ``1.0`` aside). A vendor that adds
  defaults to its record makes a miss, never a wrong adoption: the engine then submits again.
- Only jobs made at or after ``submitted_after`` less :data:`CLOCK_SLACK_S` are considered (the
  vendor's clock may differ a little from ours).
- Matches come back oldest first; a listing is read at most :data:`MAX_PAGES` pages deep.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["CLOCK_SLACK_S", "MAX_PAGES", "epoch_of", "iso_utc", "same_json"]

#: How much earlier than our record of the intent a vendor may date the job (clock skew).
CLOCK_SLACK_S = 60.0
#: How many pages of a listing a lookup reads at most.
MAX_PAGES = 20


def same_json(left: Any, right: Any) -> bool:
    """Whether two JSON values are the same value (object key order and ``1`` vs ``1.0`` aside;
    ``true`` is not ``1``)."""
    return _canonical(left) == _canonical(right)


def iso_utc(epoch_s: float) -> str:
    """An instant as ISO 8601 in UTC, to the second, rounded down (``2026-01-02T03:04:05Z``)."""
    return datetime.fromtimestamp(int(epoch_s), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_of(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 date-time (UTC unless it says otherwise); None if unread."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _canonical(value: Any) -> str:
    return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"))


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
