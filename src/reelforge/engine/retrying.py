"""The engine's own retries after transient errors, with stamina.

Fetching a paid result, ingesting it, and a feature's finish step are worth a few tries
(0.5 s, 1 s, 2 s apart), where submitting again would pay twice: provider submits are never
retried here (their retries are the feature's policy, slept durably by the workflow).

A paid output has a wider idea of transient (:func:`is_paid_output_fault`): once the provider
has billed, an output URL that answers 404 or 410 (not live yet, or a CDN hiccup) and a file
that arrives short or undecodable are worth fetching again, for a while. A URL our guard
refuses (``URL_NOT_ALLOWED``) or a file over the size cap is not: fetching again changes
nothing. Past these quick tries the workflow keeps trying durably, bounded by
``engine.paid_output_retry_s`` (:mod:`reelforge.engine.paid_outputs`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import stamina

from reelforge.errors import CorruptMedia, FetchRejected, ReelforgeError, UnsupportedMediaType

__all__ = ["PAID_OUTPUT_FAULTS", "is_paid_output_fault", "is_transient", "patiently"]

T = TypeVar("T")

#: Codes that are not retryable in general but are, for a paid output: a refused download of
#: the provider's own output URL, a file cut short (undecodable, or too short to recognise).
PAID_OUTPUT_FAULTS = frozenset({FetchRejected.code, CorruptMedia.code, UnsupportedMediaType.code})


def is_transient(exc: Exception) -> bool:
    """A retryable error of ours (a 429, a 5xx, a timeout, an unreachable host)."""
    return isinstance(exc, ReelforgeError) and exc.retryable


def is_paid_output_fault(exc: Exception) -> bool:
    """A transient error, or one of :data:`PAID_OUTPUT_FAULTS`: worth trying again once the
    generation is paid for."""
    return isinstance(exc, ReelforgeError) and (exc.retryable or exc.code in PAID_OUTPUT_FAULTS)


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
