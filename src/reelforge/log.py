"""Structured logs: dotted event names, values as fields, secrets never.

``configure_logging`` is called once by the entry points (CLI, server), never at import.
Any field whose name looks like a credential is replaced before it is rendered.

Logs never show data: a traceback is frames and exception types only, whatever is installed
(never a renderer's own, such as Rich's, which prints every frame's local variables: a request's
body, a prompt, a photo). :func:`exception_text` writes it; an exception's message is kept
short, with what usually carries data left out (pydantic's ``input_value``, SQLAlchemy's
``[parameters: ...]``, long base64-like runs), and so is any field value of more than
:data:`MAX_VALUE_CHARS` characters.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, TypeAlias

import structlog

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MAX_VALUE_CHARS",
    "configure_logging",
    "exception_text",
    "get_logger",
    "omit_data",
    "redact_secrets",
]

# Matches api_key, access_key, secret_key, token, password, authorization, credentials...; not a
# bare "key" or "thumbnail_key", which are media store keys in this codebase.
_SECRET_FIELD = re.compile(
    r"(api_?key|access_?key|secret|private_?key|token|password|passwd|authorization|credential)",
    re.I,
)
REDACTED = "[redacted]"

#: A logged string longer than this is data, not a fact about it: it is left out.
MAX_VALUE_CHARS = 1000
#: The longest exception message a log shows (what is past it is cut).
MAX_MESSAGE_CHARS = 300
_DATA_IN_MESSAGES = (
    # pydantic: "[type=string_too_long, input_value='...', input_type=str]"
    (re.compile(r"input_value=.*?, input_type=", re.S), "input_value=[omitted], input_type="),
    # SQLAlchemy: the statement's bound values
    (
        re.compile(r"\[parameters: .*?(?=\n\(Background on this error|\Z)", re.S),
        "[parameters omitted]",
    ),
    # base64 (a photo, a video), hex dumps and other long unbroken runs
    (re.compile(r"[A-Za-z0-9+/=_-]{80,}"), "[long value omitted]"),
)

ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: blank out any field whose name says it holds a secret."""
    for name in list(event_dict):
        if name != "event" and _SECRET_FIELD.search(name) and not name.endswith("_env"):
            event_dict[name] = REDACTED
    return event_dict


def omit_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: a live exception becomes :func:`exception_text` (so no renderer
    formats it with its locals), and a field that holds data (a long string, bytes) says only
    how long it was."""
    exc_info = event_dict.pop("exc_info", None)
    found = _exc_info(exc_info)
    if found is not None:
        event_dict["exception"] = exception_text(found[1])
    for name, value in list(event_dict.items()):
        if name in ("event", "exception"):
            continue
        if isinstance(value, bytes | bytearray | memoryview):
            event_dict[name] = f"[{len(value)} bytes omitted]"
        elif isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            event_dict[name] = f"[{len(value)} characters omitted]"
    return event_dict


def exception_text(exc: BaseException) -> str:
    """A traceback of ``exc`` and its causes: frames (file, line, function, code) and each
    exception's type and short message, never a local variable's value."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts: list[str] = []
    for index, error in enumerate(reversed(chain)):
        if index:
            parts.append("\nThen, handling it:\n")
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(frames))
        parts.append(f"{_type_name(type(error))}: {_short_message(error)}\n")
    return "".join(parts).rstrip("\n")


def _exc_info(value: Any) -> ExcInfo | None:
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return value[0], value[1], value[2]
    if value is True:
        kind, error, tb = sys.exc_info()
        if kind is not None and error is not None:
            return kind, error, tb
    return None


def _type_name(cls: type[BaseException]) -> str:
    module = cls.__module__
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def _short_message(error: BaseException) -> str:
    try:
        message = str(error)
    except Exception:  # a broken __str__ must not break the log line
        return "[message unavailable]"
    for pattern, replacement in _DATA_IN_MESSAGES:
        message = pattern.sub(replacement, message)
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]}... [{len(message)} characters in all]"
    return message


def configure_logging(level: str = "info", *, json: bool = False) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            omit_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
