"""Pydantic's complaints as our ``INVALID_INPUT``: the one translator every face and feature uses.

A request checked by FastAPI, a tool's arguments, a storyboard file, a provider's options: each
failed validation becomes :class:`~reelforge.errors.InvalidInput` naming every offending field,
``{"fields": [{"field": "a.b", "problem": "..."}]}``, and never echoing the input back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from reelforge.errors import InvalidInput

__all__ = ["invalid_input", "validation_problems"]

# Where FastAPI found the value; the field's name is what follows.
_LOCATIONS = ("body", "query")


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
