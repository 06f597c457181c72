"""Finding a Replicate prediction a crash cut off: ``GET /v1/predictions`` lists them all.

The listing is newest first, a page at a time (``{"next", "previous", "results"}``, each result a
prediction object with its ``model``, ``version``, ``input`` and ``created_at``); ``next`` is a URL
carrying an opaque ``cursor``. ``created_after`` narrows it (a filter Replicate documents as beta,
so the dates are also checked here). Predictions in every state are listed, in flight included.

A prediction matches when it was made from the same model reference (``owner/name``: its
``model``; ``owner/name:<version>``: its model and ``version``; a bare version id: its
``version``), with exactly the ``input`` this adapter would send, and created after
``submitted_after`` (less the slack of :mod:`reelforge.providers.lookup`). Only the cursor is
taken from ``next``: the next page is asked of the configured API root, so the token never goes
to a host an answer names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from reelforge.providers.base import JobHandle
from reelforge.providers.http import malformed_body
from reelforge.providers.lookup import CLOCK_SLACK_S, MAX_PAGES, epoch_of, iso_utc, same_json
from reelforge.providers.replicate.wire import FAILURES, PROVIDER_ID

__all__ = ["find_predictions"]

Caller = Callable[[Mapping[str, str]], Awaitable[Any]]


async def find_predictions(
    list_page: Caller,
    ref: str,
    create_body: Mapping[str, Any],
    submitted_after: float,
) -> list[JobHandle]:
    """Replicate's predictions of ``ref`` with exactly ``create_body["input"]``, made after
    ``submitted_after``, oldest first. ``list_page(params)`` makes one listing call."""
    earliest = submitted_after - CLOCK_SLACK_S
    want = _Wanted.of(ref, create_body)
    params: Mapping[str, str] = {"created_after": iso_utc(earliest)}
    found: list[tuple[float, str]] = []
    for _ in range(MAX_PAGES):
        body = await list_page(params)
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise malformed_body(FAILURES, "list", transient=True)
        older = False
        for prediction in results:
            created = (
                epoch_of(prediction.get("created_at")) if isinstance(prediction, dict) else None
            )
            if created is None or created < earliest:
                older = older or created is not None
                continue
            if want.matches(prediction):
                found.append((created, str(prediction["id"])))
        cursor = _cursor(body.get("next"))
        # Newest first: once a page reaches past the window, later pages are older still.
        if older or cursor is None:
            break
        params = {"created_after": params["created_after"], "cursor": cursor}
    # A job listed twice (the listing moved between pages) counts once.
    found = sorted(set(found))
    return [JobHandle(provider=PROVIDER_ID, request_id=rid, model=ref) for _, rid in found]


class _Wanted:
    """What a prediction of ours looks like: its model, its version, its input."""

    def __init__(self, model: str | None, version: str | None, inputs: Any) -> None:
        self.model, self.version, self.inputs = model, version, inputs

    @classmethod
    def of(cls, ref: str, create_body: Mapping[str, Any]) -> _Wanted:
        version = create_body.get("version")
        name, _, _ = ref.partition(":")
        model = None if version == ref else name
        return cls(model, version if isinstance(version, str) else None, create_body.get("input"))

    def matches(self, prediction: dict[str, Any]) -> bool:
        if not isinstance(prediction.get("id"), str) or not prediction["id"]:
            return False
        if self.model is not None and prediction.get("model") != self.model:
            return False
        if self.version is not None and prediction.get("version") != self.version:
            return False
        return same_json(prediction.get("input"), self.inputs)


def _cursor(next_url: Any) -> str | None:
    if not isinstance(next_url, str) or not next_url:
        return None
    cursor = dict(parse_qsl(urlsplit(next_url).query)).get("cursor")
    return cursor or None
