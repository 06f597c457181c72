"""A prompt template: named parts of text with ``{slots}``, parsed from one TOML file.

The file format (``<name>.toml``; the name is the file's stem)::

    description = "What the template is for (optional, not rendered)."
    style = '''
    Cinematic storyboard key frame, {aspect_ratio}.
    '''
    positive = '''
    {style}
    {description}.
    Featuring {characters}.
    '''
    negative = "blurry, watermark, text"

Every other top-level key is a *part*: a string, rendered on its own with :meth:`render`.
Which parts and slots exist is the caller's contract (the keyframes template has ``style``,
``positive`` and ``negative``; see its file). Rendering rules, chosen so that optional
storyboard fields leave no dangling words behind:

- ``{name}`` is a slot; ``{{`` and ``}}`` are literal braces. A slot the caller does not
  provide is a :class:`~reelforge.errors.ConfigurationError` naming the file and the slot.
- A line whose slots are all empty is left out ("Featuring {characters}." with no characters).
- The kept lines are joined with single spaces (prompts are one line), runs of whitespace
  collapse, and a period right after a single ``.``, ``!`` or ``?`` is dropped ("sea.." ->
  "sea."; an ellipsis is left alone).

Versions are not written in the file: the catalog numbers each distinct text of a template
(:class:`reelforge.prompts.library.PromptLibrary`), so an edit can never forget a bump.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.errors import ConfigurationError

__all__ = ["PromptTemplate", "parse_template"]

_SLOT = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_META_KEYS = frozenset({"description"})
_DOUBLED_STOP = re.compile(r"(?<!\.)([.!?])\s*\.(?=\s|$)")
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_STOP = re.compile(r"\s+([.,;:!?])")


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    """One version of a template: its parts, the file it came from, and its catalog version."""

    name: str
    version: int
    parts: Mapping[str, str]
    source: Path
    text: str = field(repr=False)
    description: str = ""

    def slots(self, part: str) -> frozenset[str]:
        """The slot names ``part`` uses."""
        return frozenset(m[1] for m in _SLOT.finditer(self._part(part)) if m[1])

    def render(self, part: str, values: Mapping[str, str]) -> str:
        """``part`` with its slots filled from ``values`` (see the module doc for the rules)."""
        unknown = sorted(self.slots(part) - set(values))
        if unknown:
            raise ConfigurationError(
                f"Prompt template {self.name!r} ({self.source}) uses unknown slot "
                f"{{{unknown[0]}}} in {part!r}; known slots: "
                f"{', '.join('{' + v + '}' for v in sorted(values))}.",
                details={"template": self.name, "part": part, "unknown": unknown},
            )
        kept: list[str] = []
        for line in self._part(part).splitlines():
            used = [m[1] for m in _SLOT.finditer(line) if m[1]]
            if used and not any(values[name].strip() for name in used):
                continue
            kept.append(_SLOT.sub(lambda m: _fill(m, values), line))
        return _tidy(" ".join(kept))

    def _part(self, part: str) -> str:
        try:
            return self.parts[part]
        except KeyError:
            raise ConfigurationError(
                f"Prompt template {self.name!r} ({self.source}) has no part {part!r}; "
                f"it has: {', '.join(sorted(self.parts))}.",
                details={"template": self.name, "part": part},
            ) from None


def parse_template(name: str, text: str, *, source: Path) -> PromptTemplate:
    """The template in ``text`` (a TOML document), version 0 until the library numbers it;
    errors name the file."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"Prompt template {name!r} ({source}) is not valid TOML: {exc}.",
            details={"template": name, "source": str(source)},
        ) from None
    parts: dict[str, str] = {}
    for key, value in document.items():
        if not isinstance(value, str):
            raise ConfigurationError(
                f"Prompt template {name!r} ({source}): {key!r} must be a string.",
                details={"template": name, "key": key},
            )
        if key not in _META_KEYS:
            parts[key] = value
    if not parts:
        raise ConfigurationError(
            f"Prompt template {name!r} ({source}) has no parts.", details={"template": name}
        )
    return PromptTemplate(
        name=name,
        version=0,
        parts=parts,
        source=source,
        text=text,
        description=str(document.get("description", "")),
    )


def _fill(match: re.Match[str], values: Mapping[str, str]) -> str:
    if match[1] is None:
        return match[0][0]  # "{{" or "}}": a literal brace
    return values[match[1]].strip()


def _tidy(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    text = _SPACE_BEFORE_STOP.sub(r"\1", text)
    return _DOUBLED_STOP.sub(r"\1", text)
