"""Finding a fal request a crash cut off: fal's platform API lists requests by endpoint.

``GET {platform}/models/requests/by-endpoint?endpoint_id=<model>&start=<ISO>&expand=payloads``
(``Authorization: Key``) answers ``{"items": [...], "next_cursor", "has_more"}``; an item has
``request_id``, ``endpoint_id``, ``sent_at``, ``ended_at``, ``status_code`` and, with
``expand=payloads``, ``json_input`` (the body the request was sent with). A request matches when
its ``json_input`` is exactly the body :mod:`.models` builds for the request (the webhook URL is a
query parameter, not part of it) and it was sent after ``submitted_after`` (less the slack of
:mod:`reelforge.providers.lookup`).

**In-flight requests are not listed.** fal sorts the listing by end time and its items carry an
``ended_at``: a request still queued or running does not appear until it ends. An empty answer
therefore does not prove that nothing reached fal; the engine waits for an orphan to end (its
webhook, carrying our job id, is adopted) before it submits again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from reelforge.providers.base import JobHandle
from reelforge.providers.fal.wire import FAILURES, PROVIDER_ID
from reelforge.providers.http import malformed_body
from reelforge.providers.lookup import CLOCK_SLACK_S, MAX_PAGES, epoch_of, iso_utc, same_json

__all__ = ["find_requests"]

#: fal's largest page.
PAGE_SIZE = 100

Caller = Callable[[str, Mapping[str, str]], Awaitable[Any]]


async def find_requests(
    list_page: Caller, model: str, arguments: dict[str, Any], submitted_after: float
) -> list[JobHandle]:
    """fal's ended requests to ``model`` with exactly ``arguments``, sent after
    ``submitted_after``, oldest first. ``list_page(url_suffix, params)`` makes one listing call."""
    earliest = submitted_after - CLOCK_SLACK_S
    params = {
        "endpoint_id": model,
        "start": iso_utc(earliest),
        "expand": "payloads",
        "limit": str(PAGE_SIZE),
    }
    found: list[tuple[float, str]] = []
    for _ in range(MAX_PAGES):
        body = await list_page("/models/requests/by-endpoint", params)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise malformed_body(FAILURES, "list_requests", transient=True)
        for item in items:
            matched = _match(item, model, arguments, earliest)
            if matched is not None:
                found.append(matched)
        cursor = body.get("next_cursor")
        if not body.get("has_more") or not isinstance(cursor, str) or not cursor:
            break
        params = params | {"cursor": cursor}
    # A job listed twice (the listing moved between pages) counts once.
    found = sorted(set(found))
    return [JobHandle(provider=PROVIDER_ID, request_id=rid, model=model) for _, rid in found]


def _match(
    item: Any, model: str, arguments: dict[str, Any], earliest: float
) -> tuple[float, str] | None:
    """(sent at, request id) of a listed request that is ours to adopt, else None."""
    if not isinstance(item, dict) or item.get("endpoint_id") != model:
        return None
    request_id = item.get("request_id")
    sent_at = epoch_of(item.get("sent_at"))
    if not isinstance(request_id, str) or sent_at is None or sent_at < earliest:
        return None
    if not same_json(item.get("json_input"), arguments):
        return None
    return sent_at, request_id
