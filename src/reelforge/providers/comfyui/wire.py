"""Reading ComfyUI's answers: a prompt's history entry, the queue, and every failure as ours.

Facts of ComfyUI's server (``server.py``) this relies on: ``POST /prompt`` answers
``{"prompt_id", "number", "node_errors"}``, or 400 with ``{"error": {"type", "message",
"details"}, "node_errors": {node_id: {"errors": [{"type", "message", "details"}],
"class_type"}}}`` for a graph that fails validation; ``GET /history/{prompt_id}`` answers ``{}``
until the prompt has run, then ``{prompt_id: {"outputs": {node_id: {"images": [{"filename",
"subfolder", "type"}]}}, "status": {"status_str": "success" | "error", "completed",
"messages": [[event, data], ...]}}}`` (video save nodes list their files under ``images``,
``gifs`` or ``videos``); ``GET /queue`` answers ``{"queue_running": [[number, prompt_id, ...]],
"queue_pending": [...]}``. An ``execution_error`` message names ``node_id``, ``node_type``,
``exception_type`` and ``exception_message``; ``execution_interrupted`` means it was stopped.

:class:`ComfyUIError` (``COMFYUI_ERROR``) is ComfyUI's own error; :class:`ComfyUIRejectedNode`
a node whose inputs failed validation (rejected input), :class:`ComfyUINodeError` a node that
failed while running (its id and class in the details);
:class:`ComfyUIPromptLost` a prompt the server no longer knows (it restarted); a workflow that
needs what the server lacks is :class:`ComfyUIWorkflowError` (a configuration error).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from reelforge.errors import (
    ConfigurationError,
    ContentRejected,
    ProviderError,
    ProviderRejectedInput,
)
from reelforge.providers.base import Canceled, Failed, GenerationMetadata, JobState
from reelforge.providers.http import (
    REJECTED,
    FailureTable,
    Outcome,
    VendorFailure,
    json_object,
    parse_retry_after,
    read_json,
)

__all__ = [
    "FAILURES",
    "PROVIDER_ID",
    "ComfyUIError",
    "ComfyUINodeError",
    "ComfyUIPromptLost",
    "ComfyUIRejectedNode",
    "ComfyUIWorkflowError",
    "FileRef",
    "HistoryEntry",
    "comfyui_error",
    "loads_json",
    "node_error",
    "parse_history",
    "queue_place",
]

PROVIDER_ID = "comfyui"
_MODERATION = re.compile(r"nsfw|content moderation|safety checker|flagged", re.I)


class ComfyUIError(ProviderError):
    """A ComfyUI failure no shared class names."""

    code = "COMFYUI_ERROR"


class ComfyUINodeError(ComfyUIError):
    """A node of the workflow failed while running; the details name it (``node_id``,
    ``class_type``)."""


class ComfyUIRejectedNode(ProviderRejectedInput):
    """ComfyUI refused the prompt: a node's inputs failed its validation (``node_errors``); the
    details name the node (``node_id``, ``class_type``) and every node refused (``nodes``)."""


class ComfyUIPromptLost(ComfyUIError):
    """The server no longer knows a prompt it accepted (it restarted): neither queued, running
    nor in its history. Submitting again is safe: nothing of it survived."""

    retryable = False


class ComfyUIWorkflowError(ConfigurationError):
    """A configured workflow the server cannot run (a node class it lacks, an input a bound node
    does not have), or that is not configured at all; the message names the node."""


FAILURES = FailureTable(
    PROVIDER_ID,
    "ComfyUI",
    ComfyUIError,
    None,
    by_kind={"validation": REJECTED},
    # ComfyUI itself takes no credentials: a 401/403 comes from a proxy in front of it.
    by_status={
        status: Outcome(
            None,
            "{vendor} (or a proxy in front of it) refused the request ({status}): check "
            "the token named by providers.comfyui.token_env.",
        )
        for status in (401, 403)
    },
)

#: Calls that only read: a malformed answer to one of them is a passing glitch.
READS = frozenset({"status", "queue", "history", "object_info"})


@dataclass(frozen=True, slots=True)
class FileRef:
    """One output file, as ``/view`` takes it."""

    filename: str
    subfolder: str
    type: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """What a history entry says: a final state (None: success) and the output files."""

    failure: JobState | None
    files: tuple[FileRef, ...]
    gpu_ms: int | None


def comfyui_error(operation: str, source: httpx.Response | httpx.HTTPError) -> ProviderError:
    """The one translation of a failed ComfyUI call (answer or transport error)."""
    if isinstance(source, httpx.HTTPError):
        return FAILURES.transport(operation, source)
    body = json_object(source) or {}
    nodes = body.get("node_errors")
    if isinstance(nodes, dict) and nodes:
        node_id, entry = next(iter(nodes.items()))
        return node_error(str(node_id), entry if isinstance(entry, dict) else {}, body)
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    kind = error.get("type") if isinstance(error, dict) else None
    failure = VendorFailure(
        str(message or source.reason_phrase or f"HTTP {source.status_code}"),
        source.status_code,
        "validation" if kind == "prompt_no_outputs" else None,
        retry_after=parse_retry_after(source.headers.get("retry-after")),
    )
    return FAILURES.error(operation, failure)


def node_error(node_id: str, entry: Mapping[str, Any], body: Mapping[str, Any]) -> ProviderError:
    """A ``node_errors`` entry of a refused prompt as :class:`ComfyUIRejectedNode`."""
    errors = entry.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    class_type = str(entry.get("class_type") or "")
    what = str(first.get("details") or first.get("message") or "invalid input")
    return ComfyUIRejectedNode(
        f"ComfyUI refused the workflow: node {node_id} ({class_type}): {what}",
        provider=PROVIDER_ID,
        details={
            "operation": "submit",
            "node_id": node_id,
            "class_type": class_type,
            "error_type": first.get("type"),
            "vendor_message": what[:300],
            "nodes": sorted(str(n) for n in body.get("node_errors", {})),
        },
    )


def parse_history(body: Any, prompt_id: str, model: str) -> HistoryEntry | None:
    """The prompt's entry of ``GET /history/{id}``; None when it is not there (not run yet)."""
    if not isinstance(body, dict):
        raise ComfyUIError(
            "ComfyUI answered the history with a body that cannot be read.",
            provider=PROVIDER_ID,
            details={"operation": "status", "reason": "malformed_body"},
        )
    entry = body.get(prompt_id)
    if not isinstance(entry, dict):
        return None
    found = entry.get("status")
    status: dict[str, Any] = found if isinstance(found, dict) else {}
    messages = [
        (m[0], m[1] if isinstance(m[1], dict) else {})
        for m in status.get("messages") or ()
        if isinstance(m, list | tuple) and len(m) == 2
    ]
    gpu_ms = _gpu_ms(messages)
    if status.get("status_str") == "error":
        return HistoryEntry(_failure(messages, model), (), gpu_ms)
    if not status.get("completed", True):
        return None
    files = []
    for output in (entry.get("outputs") or {}).values():
        for key in ("images", "gifs", "videos"):
            for item in (output or {}).get(key) or ():
                if isinstance(item, dict) and isinstance(item.get("filename"), str):
                    files.append(
                        FileRef(
                            item["filename"],
                            str(item.get("subfolder") or ""),
                            str(item.get("type") or "output"),
                        )
                    )
    if not files:
        error = ComfyUIError(
            "ComfyUI finished the prompt but its save nodes wrote no file.",
            provider=PROVIDER_ID,
            details={"operation": "result", "prompt_id": prompt_id},
        )
        return HistoryEntry(Failed(error), (), gpu_ms)
    return HistoryEntry(None, tuple(files), gpu_ms)


def queue_place(body: Any, prompt_id: str) -> tuple[str, int] | None:
    """``("running", 0)`` or ``("pending", position)`` for the prompt in ``GET /queue``; None:
    not queued."""
    if not isinstance(body, dict):
        return None
    for index, item in enumerate(body.get("queue_running") or ()):
        if isinstance(item, list) and len(item) > 1 and item[1] == prompt_id:
            return "running", index
    pending = [i for i in body.get("queue_pending") or () if isinstance(i, list) and len(i) > 1]
    pending.sort(key=lambda item: item[0] if isinstance(item[0], int | float) else 0)
    for index, item in enumerate(pending):
        if item[1] == prompt_id:
            return "pending", index
    return None


def metadata(model: str, prompt_id: str, gpu_ms: int | None) -> GenerationMetadata:
    return GenerationMetadata(
        model=model,
        inference_time_ms=gpu_ms,
        extra={"prompt_id": prompt_id, "gpu_time_ms": gpu_ms, "self_hosted": True},
    )


def loads_json(content: bytes, operation: str) -> Any:
    """A body that must be JSON (see :func:`reelforge.providers.http.read_json`)."""
    return read_json(FAILURES, content, operation, READS)


def _failure(messages: list[tuple[str, dict[str, Any]]], model: str) -> JobState:
    for event, data in messages:
        if event == "execution_interrupted":
            return Canceled("ComfyUI interrupted the prompt.")
        if event == "execution_error":
            node_id = str(data.get("node_id") or "")
            class_type = str(data.get("node_type") or "")
            message = str(data.get("exception_message") or "the node failed").strip()
            details = {
                "operation": "generate",
                "node_id": node_id,
                "class_type": class_type,
                "exception_type": data.get("exception_type"),
                "vendor_message": message[:300],
            }
            text = f"ComfyUI node {node_id} ({class_type}) failed: {message[:200]}"
            if _MODERATION.search(message):
                return Failed(ContentRejected(text, provider=PROVIDER_ID, details=details))
            return Failed(ComfyUINodeError(text, provider=PROVIDER_ID, details=details))
    return Failed(
        ComfyUIError(
            "ComfyUI reported the prompt failed without saying where.",
            provider=PROVIDER_ID,
            details={"operation": "generate", "model": model},
        )
    )


def _gpu_ms(messages: list[tuple[str, dict[str, Any]]]) -> int | None:
    stamps = {event: data.get("timestamp") for event, data in messages}
    start = stamps.get("execution_start")
    end = stamps.get("execution_success") or stamps.get("execution_error")
    if isinstance(start, int | float) and isinstance(end, int | float) and end >= start:
        return int(end - start)
    return None
