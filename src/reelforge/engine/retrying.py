"""The engine's own retries after transient errors, with stamina.

Fetching a paid result, ingesting it, and a feature's finish step are worth a few tries
(0.5 s, 1 s, 2 s apart), where submitting again would pay twice: provider submits are never
retried here (their retries are the feature's policy, slept durably by the workflow).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import stamina

from reelforge.errors import ReelforgeError

__all__ = ["is_transient", "patiently"]

T = TypeVar("T")


def is_transient(exc: Exception) -> bool:
    """A retryable error of ours (a 429, a 5xx, a timeout, an unreachable host)."""
    return isinstance(exc, ReelforgeError) and exc.retryable


async def patiently(
    call: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[Exception], bool] = is_transient,
) -> T:
    """``call``, tried up to four times while it fails with a ``transient`` error."""

    @stamina.retry(
        on=transient, attempts=4, timeout=None, wait_initial=0.5, wait_max=2.0, wait_jitter=0.0
    )
    async def attempt() -> T:
        return await call()

    return await attempt()
