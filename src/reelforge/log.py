"""Structured logs: dotted event names, values as fields, secrets never.

``configure_logging`` is called once by the entry points (CLI, server), never at import.
Any field whose name looks like a credential is replaced before it is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

__all__ = ["configure_logging", "get_logger", "redact_secrets"]

# Matches api_key, access_key, secret_key, token, password, authorization, credentials...; not a
# bare "key" or "thumbnail_key", which are media store keys in this codebase.
_SECRET_FIELD = re.compile(
    r"(api_?key|access_?key|secret|private_?key|token|password|passwd|authorization|credential)",
    re.I,
)
REDACTED = "[redacted]"


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: blank out any field whose name says it holds a secret."""
    for name in list(event_dict):
        if name != "event" and _SECRET_FIELD.search(name) and not name.endswith("_env"):
            event_dict[name] = REDACTED
    return event_dict


def configure_logging(level: str = "info", *, json: bool = False) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
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
