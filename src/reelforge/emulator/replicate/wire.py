"""Replicate's wire format as the emulator writes and reads it: problem details, the
``Prefer`` and ``Cancel-After`` headers, flux output sizes and version objects."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

__all__ = [
    "SENSITIVE",
    "duration_s",
    "image_size",
    "images_problem",
    "input_problem",
    "invalid",
    "iso",
    "num_outputs",
    "prefer_wait",
    "problem",
    "version_object",
]

SENSITIVE = "The input or output was flagged as sensitive. Please try again with different inputs."
_MAX_WAIT_S = 60
_EVENTS = {"start", "output", "logs", "completed"}
_DURATION = re.compile(r"([0-9]+)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def problem(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    return JSONResponse(
        {"title": title, "status": status, "detail": detail, **extra},
        status_code=status,
        headers=headers,
        media_type="application/problem+json",
    )


def invalid(field: str, kind: str, description: str) -> Response:
    return problem(
        422,
        "Input validation failed",
        f"- {field}: {description}",
        invalid_fields=[{"type": kind, "field": field, "description": description}],
    )


def input_problem(body: dict[str, Any]) -> Response | None:
    inputs = body.get("input")
    if not isinstance(inputs, dict):
        return invalid("input", "required", "input is required")
    prompt = inputs.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return invalid("input.prompt", "required", "prompt is required")
    if body.get("webhook") is not None and not isinstance(body.get("webhook"), str):
        return invalid("webhook", "type", "webhook must be a URL")
    events = body.get("webhook_events_filter")
    if events is not None and (not isinstance(events, list) or not set(events) <= _EVENTS):
        return invalid("webhook_events_filter", "enum", "events are start, output, logs, completed")
    return None


def images_problem(inputs: dict[str, Any], fields: tuple[str, ...]) -> Response | None:
    """A Kontext model's missing or malformed image input (a URL or data URI each)."""
    for field in fields:
        value = inputs.get(field)
        if not isinstance(value, str) or not value.startswith(("https://", "http://", "data:")):
            return invalid(f"input.{field}", "required", f"{field} is required")
    return None


def prefer_wait(value: str | None) -> float | None:
    """Seconds to hold a create call for ``Prefer: wait`` / ``wait=N``; None without one."""
    for preference in (value or "").split(","):
        name, _, seconds = preference.strip().partition("=")
        if name.strip().lower() != "wait":
            continue
        if not seconds:
            return float(_MAX_WAIT_S)
        try:
            return float(min(max(int(seconds), 1), _MAX_WAIT_S))
        except ValueError:
            return None
    return None


def duration_s(value: str | None) -> float | None:
    """A ``Cancel-After`` duration (``90s``, ``5m``, ``1h30m``, ``500ms``) in seconds."""
    if not value or not re.fullmatch(r"([0-9]+(ms|s|m|h))+", value.strip()):
        return None
    return sum(int(n) * _SECONDS[unit] for n, unit in _DURATION.findall(value))


def num_outputs(args: dict[str, Any]) -> int:
    count = args.get("num_outputs", 1)
    return min(max(count, 1), 4) if isinstance(count, int) else 1


def image_size(args: dict[str, Any]) -> tuple[int, int]:
    """flux's output size for ``aspect_ratio`` and ``megapixels`` (sides multiples of 64)."""
    try:
        w, h = (int(part) for part in str(args.get("aspect_ratio", "1:1")).split(":"))
    except ValueError:
        w, h = 1, 1
    pixels = (0.25 if args.get("megapixels") == "0.25" else 1.0) * 1024 * 1024
    width = math.sqrt(pixels * w / h)
    return max(64, round(width / 64) * 64), max(64, round(pixels / width / 64) * 64)


def version_object(version: str) -> dict[str, Any]:
    output = {"type": "array", "items": {"type": "string", "format": "uri"}}
    return {
        "id": version,
        "created_at": "2024-08-01T00:00:00.000000Z",
        "cog_version": "0.9.4",
        "openapi_schema": {
            "openapi": "3.0.2",
            "info": {"title": "Cog", "version": "0.1.0"},
            "paths": {},
            "components": {"schemas": {"Input": {"type": "object"}, "Output": output}},
        },
    }


def iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
