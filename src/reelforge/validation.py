"""Pydantic's complaints as our ``INVALID_INPUT``: the one translator every face and feature uses.

A request checked by FastAPI, a tool's arguments, a storyboard file, a provider's options: each
failed validation becomes :class:`~reelforge.errors.InvalidInput` naming every offending field,
``{"fields": [{"field": "a.b", "problem": "..."}]}``, and never echoing the input back.

Some values pass any type check and still cannot be kept: text holding a NUL character
(PostgreSQL refuses it) or a lone UTF-16 surrogate (not Unicode: no UTF-8 encoder takes it, so
neither a database, a log line, a provider request nor our own JSON answer can carry it), and
whole numbers beyond 64 bits (no column holds them). :func:`unstorable_values` finds them
anywhere in a JSON-like value and :func:`refuse_unstorable` refuses them in the same envelope;
the API runs it over every request and the MCP tools over their arguments. Query and path
integers are typed :data:`Int64` or :data:`NonNegativeInt64` so they never reach a database
unbounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Protocol

from pydantic import Field

from reelforge.errors import InvalidInput

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "Int64",
    "NonNegativeInt64",
    "invalid_input",
    "last_event_id",
    "refuse_unstorable",
    "text_problem",
    "unstorable_values",
    "validation_problems",
]

#: The range of a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: A whole number a database column holds; use it for every query and path integer.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
#: The same, from 0: offsets, event ids.
NonNegativeInt64 = Annotated[int, Field(ge=0, le=INT64_MAX)]

_SURROGATE = re.compile("[\ud800-\udfff]")
# Enough to name what is wrong; a body full of NULs need not be listed entry by entry.
_MAX_PROBLEMS = 20
_MAX_NAME = 64

# Where FastAPI found the value; the field's name is what follows.
_LOCATIONS = ("body", "query", "path")


class ValidationFailure(Protocol):
    """Pydantic's ``ValidationError`` or FastAPI's ``RequestValidationError``."""

    def errors(self) -> Sequence[Any]: ...


def validation_problems(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's error list as ``[{"field": "a.b", "problem": "..."}]`` (no input echoed); an
    error about the whole object is ``(body)``."""
    problems = []
    for err in errors:
        location = [str(part) for part in err.get("loc", ())]
        if location and location[0] in _LOCATIONS:
            location = location[1:]
        problems.append({"field": ".".join(location) or "(body)", "problem": str(err.get("msg"))})
    return problems


def invalid_input(
    failure: ValidationFailure,
    subject: str = "Invalid request",
    *,
    details: Mapping[str, Any] | None = None,
) -> InvalidInput:
    """``INVALID_INPUT`` saying ``"{subject}: field, field."``, with every problem in
    ``details["fields"]`` beside ``details``. Raise it ``from None``: pydantic's text repeats
    the input."""
    problems = validation_problems(failure.errors())
    fields = ", ".join(problem["field"] for problem in problems)
    return InvalidInput(f"{subject}: {fields}.", details={**(details or {}), "fields": problems})


def last_event_id(header: str | None) -> int | None:
    """The event id a reconnecting client sends (``Last-Event-ID``), if it is one: ASCII digits
    of a number a column holds."""
    text = (header or "").strip()
    if text.isascii() and text.isdigit() and int(text) <= INT64_MAX:
        return int(text)
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be kept (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character (U+0000), which is not allowed in text"
    if not text.isascii() and (found := _SURROGATE.search(text)) is not None:
        return f"contains a lone surrogate (U+{ord(found.group()):04X}), which is not valid Unicode"
    return None


def _number_problem(value: int) -> str | None:
    if INT64_MIN <= value <= INT64_MAX:
        return None
    return f"is outside the whole numbers that can be stored ({INT64_MIN} to {INT64_MAX})"


def unstorable_values(
    value: Any, location: Sequence[str | int] = (), *, root: str = "(body)"
) -> list[dict[str, str]]:
    """Every string (key or value) and integer in ``value`` (JSON-like: mappings, lists, scalars)
    that cannot be kept, as ``[{"field": "a.0.b", "problem": "..."}]``. A bad key is reported
    at its mapping (``root`` for the outermost), never echoed; what it holds is not looked
    into."""
    problems: list[dict[str, str]] = []
    pending: list[tuple[tuple[str | int, ...], Any]] = [(tuple(location), value)]
    while pending and len(problems) < _MAX_PROBLEMS:
        where, item = pending.pop()
        problem: str | None = None
        if isinstance(item, str):
            problem = text_problem(item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            problem = _number_problem(item)
        elif isinstance(item, Mapping):
            for key, inner in reversed(list(item.items())):
                key_problem = text_problem(key) if isinstance(key, str) else None
                if key_problem is not None:
                    problem = f"has a key that {key_problem}"
                else:
                    pending.append(((*where, key), inner))
        elif isinstance(item, list | tuple):
            pending.extend(
                ((*where, index), inner) for index, inner in reversed(list(enumerate(item)))
            )
        if problem is not None:
            problems.append({"field": _field_name(where) or root, "problem": problem})
    return problems


def _field_name(location: Sequence[str | int]) -> str:
    # Keys of free-form objects are the client's text: named, but not at any length.
    return ".".join(
        text if len(text) <= _MAX_NAME else text[:_MAX_NAME] + "..."
        for text in (str(part) for part in location)
    )


def refuse_unstorable(
    problems: Sequence[Mapping[str, str]],
    subject: str = "Invalid request",
    *,
    messages: Mapping[str, str] | None = None,
) -> None:
    """Raise ``INVALID_INPUT`` for ``problems`` (:func:`unstorable_values`'s) if there are any,
    in :func:`invalid_input`'s shape. ``messages``: a field's own message (a spec's words), by
    the field's last name, used when that field is among them."""
    if not problems:
        return
    listed = [dict(problem) for problem in problems]
    for problem in listed:
        message = (messages or {}).get(problem["field"].rsplit(".", 1)[-1])
        if message is not None:
            raise InvalidInput(
                message,
                details={
                    "field": problem["field"],
                    "reason": f"The field {problem['field']} {problem['problem']}",
                    "fields": listed,
                },
            )
    fields = ", ".join(problem["field"] for problem in listed)
    raise InvalidInput(f"{subject}: {fields}.", details={"fields": listed})
