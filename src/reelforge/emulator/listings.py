"""The vendors' listings of past jobs, as the emulator serves them (fal, Replicate, Leonardo).

Each vendor documents one way to ask "which jobs did I make?", and the adapters use it to find a
submission a crash cut off before its id was recorded. The emulator lists its own jobs the same
way; the configuration's ``list_page_size`` caps every page (for paging tests).

- **fal** (platform API, ``GET /v1/models/requests/by-endpoint``): ``endpoint_id`` (required,
  repeated or comma-separated, up to 50), ``start`` / ``end`` (ISO 8601; ``start`` defaults to
  24 hours ago, 90 days with ``request_id``; ``end`` exclusive, default now), ``status``
  (``success``, ``error``, ``user_error``), ``request_id``, ``limit`` (1-100, default 50),
  ``cursor`` (base64 of the page number), ``expand=payloads`` (adds ``json_input`` and
  ``json_output``). Answers ``{"items": [...], "next_cursor", "has_more"}``; an item has
  ``request_id``, ``endpoint_id``, ``sent_at``, ``started_at``, ``ended_at``, ``status_code``,
  ``duration``. fal sorts by end time: only requests that have **ended** are listed (a request
  still queued or running is not), newest end first, and the time range applies to the end time;
  queued and synchronous requests alike; canceled ones are left out (the emulator's choice: fal's
  docs do not say).
- **Replicate** (``GET /v1/predictions``): prediction objects, newest first, 100 a page,
  ``{"next", "previous", "results"}``; ``next`` is an absolute URL carrying an opaque ``cursor``
  (the emulator pages forward only: ``previous`` is always null). ``created_after`` /
  ``created_before`` (ISO 8601; beta at Replicate) filter on ``created_at``. Predictions in every
  state are listed.
- **Leonardo** (``GET /me``, then ``GET /generations/user/{userId}?offset&limit``): the user is
  ``{"user_details": [{"user": {"id", "username"}, ...}]}``; the generations are
  ``{"generations": [...]}``, newest first (``limit`` default 10, at most 50), each shaped as
  ``generations_by_pk``; another user's id lists nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reelforge.emulator.state import EmulatorConfig, Job, JobPhase

__all__ = [
    "LEONARDO_USER_ID",
    "fal_requests",
    "leonardo_generations",
    "leonardo_me",
    "replicate_predictions",
]

LEONARDO_USER_ID = "6f1d2c3b-0e4a-4b8c-9d7e-emulator0001"
_DAY_S = 86_400.0


def fal_requests(
    request: Request,
    jobs: Iterable[Job],
    config: EmulatorConfig,
    outcome: Callable[[Job], tuple[int, Any]],
    now: float,
) -> Response:
    """fal's ``GET /v1/models/requests/by-endpoint`` over ``jobs`` (see the module docstring)."""
    query = request.query_params
    endpoints = [e.strip() for v in query.getlist("endpoint_id") for e in v.split(",") if e.strip()]
    if not endpoints or len(endpoints) > 50:
        return _fal_invalid("endpoint_id", "Give between 1 and 50 endpoint ids")
    limit = _int(query.get("limit"), 50)
    page = _page(query.get("cursor"))
    wanted_id = query.get("request_id")
    start = _instant(query.get("start"), now - _DAY_S * (90 if wanted_id else 1))
    end = _instant(query.get("end"), now + 1.0)
    status = query.get("status")
    if limit is None or not 1 <= limit <= 100:
        return _fal_invalid("limit", "Input should be between 1 and 100")
    if page is None or start is None or end is None:
        return _fal_invalid("query", "Invalid cursor or date")
    if status not in (None, "success", "error", "user_error"):
        return _fal_invalid("status", "Input should be 'success', 'error' or 'user_error'")
    payloads = "payloads" in {e.strip() for v in query.getlist("expand") for e in v.split(",")}
    ended = [
        (job, *outcome(job))
        for job in jobs
        if job.model in endpoints
        and job.phase is JobPhase.COMPLETED
        and job.finished_at is not None
        and start <= job.finished_at < end
        and wanted_id in (None, job.request_id)
    ]
    listed = [item for item in ended if status is None or _fal_status(item[1]) == status]
    listed.sort(key=lambda item: item[0].finished_at or 0.0, reverse=True)
    size = min(limit, config.list_page_size or limit)
    chunk = listed[(page - 1) * size : page * size]
    has_more = len(listed) > page * size
    items = []
    for job, code, output in chunk:
        item: dict[str, Any] = {
            "request_id": job.request_id,
            "endpoint_id": job.model,
            "sent_at": _iso(job.created_at),
            "started_at": _iso(job.started_at),
            "ended_at": _iso(job.finished_at),
            "status_code": code,
            "duration": round((job.finished_at or job.created_at) - job.created_at, 3),
        }
        if payloads:
            item |= {"json_input": job.arguments, "json_output": output}
        items.append(item)
    cursor = base64.b64encode(str(page + 1).encode()).decode() if has_more else None
    return JSONResponse({"items": items, "next_cursor": cursor, "has_more": has_more})


def replicate_predictions(
    request: Request,
    jobs: Iterable[Job],
    config: EmulatorConfig,
    body_of: Callable[[Job], dict[str, Any]],
    problem: Callable[[int, str, str], Response],
) -> Response:
    """Replicate's ``GET /v1/predictions`` over ``jobs`` (see the module docstring)."""
    query = request.query_params
    after = _instant(query.get("created_after"), float("-inf"))
    before = _instant(query.get("created_before"), float("inf"))
    try:
        position = _keyset(query.get("cursor"))
    except ValueError:
        position, after = None, None
    if after is None or before is None:
        return problem(400, "Invalid query", "created_after, created_before or cursor is invalid.")
    listed = sorted(
        (job for job in jobs if after <= job.created_at < before),
        key=lambda job: (job.created_at, job.request_id),
        reverse=True,
    )
    if position is not None:
        listed = [job for job in listed if (job.created_at, job.request_id) < position]
    size = min(100, config.list_page_size or 100)
    page, rest = listed[:size], listed[size:]
    next_url = None
    if rest:
        last = page[-1]
        token = json.dumps([last.created_at, last.request_id]).encode()
        params = {k: v for k, v in query.items() if k != "cursor"}
        params["cursor"] = base64.urlsafe_b64encode(token).decode()
        next_url = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?"
        next_url += urlencode(params)
    return JSONResponse(
        {"next": next_url, "previous": None, "results": [body_of(job) for job in page]}
    )


def leonardo_me() -> Response:
    """Leonardo's ``GET /me`` for the emulator's one user."""
    user = {"id": LEONARDO_USER_ID, "username": "emulator"}
    details = {
        "user": user,
        "tokenRenewalDate": None,
        "subscriptionTokens": 0,
        "subscriptionGptTokens": 0,
        "subscriptionModelTokens": 0,
        "apiConcurrencySlots": 10,
        "apiPaidTokens": 0,
        "apiSubscriptionTokens": 0,
        "apiPlanTokenRenewalDate": None,
    }
    return JSONResponse({"user_details": [details]})


def leonardo_generations(
    request: Request,
    jobs: Iterable[Job],
    config: EmulatorConfig,
    generation_of: Callable[[Job], dict[str, Any]],
    error: Callable[[int, str, str], Response],
) -> Response:
    """Leonardo's ``GET /generations/user/{userId}`` over ``jobs`` (newest first)."""
    offset = _int(request.query_params.get("offset"), 0)
    limit = _int(request.query_params.get("limit"), 10)
    if offset is None or offset < 0 or limit is None or not 1 <= limit <= 50:
        return error(400, "offset must be >= 0 and limit between 1 and 50", "validation-failed")
    if request.path_params["user_id"] != LEONARDO_USER_ID:
        return JSONResponse({"generations": []})
    listed = sorted(jobs, key=lambda job: (job.created_at, job.request_id), reverse=True)
    size = min(limit, config.list_page_size or limit)
    page = listed[offset : offset + size]
    return JSONResponse({"generations": [generation_of(job) for job in page]})


def _fal_invalid(field: str, message: str) -> Response:
    detail = [{"loc": ["query", field], "msg": message, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def _fal_status(code: int) -> str:
    if code < 400:
        return "success"
    return "user_error" if code < 500 else "error"


def _int(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None


def _page(cursor: str | None) -> int | None:
    if not cursor:
        return 1
    try:
        page = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return page if page >= 1 else None


def _keyset(cursor: str | None) -> tuple[float, str] | None:
    """The (created_at, id) a Replicate cursor points past; None for the first page. Raises
    ValueError for a cursor the emulator did not write."""
    if not cursor:
        return None
    try:
        created_at, request_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return float(created_at), str(request_id)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError(cursor) from None


def _instant(value: str | None, default: float) -> float | None:
    """Epoch seconds of an ISO 8601 date or date-time (UTC unless it says otherwise)."""
    if not value:
        return default
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
