"""Prompts for character images, built only from what is stored about the character.

:func:`reference_prompt` is the master reference's suggestion: the stored facts, labelled, and
the spec's framing details; nothing is invented (a fact not stored is left out). The 360° views
and scene images start from the same facts (:func:`character_summary`). Generated prompts carry
no quotation marks (the spec asks to avoid them).

Two suggesters give the editable suggestion the page shows: :class:`FactualSuggester` (the
default, deterministic) and :class:`LlmSuggester`, which asks an OpenAI-compatible chat endpoint
to phrase the same facts and falls back to the factual one on any failure;
:func:`build_suggester` picks one from the settings (the composition root calls it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from reelforge.features.characters.config import CharacterLlmSettings, CharacterSettings
from reelforge.features.characters.repository import CharacterRecord
from reelforge.log import get_logger

__all__ = [
    "MASTER_FRAMING",
    "FactualSuggester",
    "LlmSuggester",
    "PromptSuggester",
    "build_suggester",
    "character_facts",
    "character_summary",
    "portfolio_prompt",
    "reference_prompt",
    "scene_prompt",
    "turnaround_prompt",
    "without_quotes",
]

log = get_logger(__name__)

MASTER_FRAMING = (
    "chest-to-mid-thigh crop, equal headroom, characters pinned to left/right thirds, "
    "inter-subject gap ≈ 7% of frame width, matched eye level, 35mm lens."
)
_MAX_PROMPT = 4000
# (stored key, label): the order facts appear in a prompt.
_VISUAL_FACTS = (
    ("role", "Role"),
    ("age", "Age"),
    ("gender", "Gender"),
    ("appearance", "Appearance"),
    ("hair", "Hair"),
    ("eyes", "Eyes"),
    ("clothing", "Clothing"),
    ("distinguishingFeatures", "Distinguishing features"),
    ("artStyle", "Art style"),
)
_DOUBLE_QUOTES = re.compile('["`\u201c\u201d\u201e\u201f\u00ab\u00bb]')
# A single quote used as a quotation mark, not an apostrophe inside a word (O'Brien, ship's).
_SINGLE = "['\u2018\u2019\u201a\u201b]"
_SINGLE_QUOTES = re.compile(f"(?<![A-Za-z0-9]){_SINGLE}|{_SINGLE}(?![A-Za-z0-9])")
_SPACES = re.compile(r"\s+")


def without_quotes(text: str) -> str:
    """``text`` with quotation marks removed and whitespace collapsed."""
    text = _SINGLE_QUOTES.sub("", _DOUBLE_QUOTES.sub("", text))
    return _SPACES.sub(" ", text).strip()


def _sentence(text: str) -> str:
    text = without_quotes(text).rstrip(" .;,")
    return f"{text}." if text else ""


def character_facts(character: CharacterRecord) -> list[tuple[str, str]]:
    """The stored facts as (label, value), in prompt order; empty values left out."""
    facts = [("Name", character.name)]
    if character.description.strip():
        facts.append(("Description", character.description))
    for key, label in _VISUAL_FACTS:
        value = character.visual.get(key)
        if isinstance(value, str) and value.strip():
            facts.append((label, value))
    return [(label, without_quotes(value).rstrip(" .;,")) for label, value in facts]


def character_summary(character: CharacterRecord) -> str:
    """The character's stored facts as sentences (no framing)."""
    facts = character_facts(character)
    name = facts[0][1]
    sentences = [f"{name}."]
    sentences += [
        _sentence(value if label == "Description" else f"{label}: {value}")
        for label, value in facts[1:]
    ]
    return " ".join(s for s in sentences if s)


def reference_prompt(character: CharacterRecord) -> str:
    """The master reference suggestion: the facts and the spec's framing details."""
    text = f"Master reference image of {character_summary(character)} Framing: {MASTER_FRAMING}"
    return text[:_MAX_PROMPT]


def portfolio_prompt(character: CharacterRecord, angle: str) -> str:
    """One view of the 360° set."""
    text = f"{character_summary(character)} 360-degree turnaround, {without_quotes(angle)} view."
    return text[:_MAX_PROMPT]


def turnaround_prompt(character: CharacterRecord) -> str:
    """The whole 360° set in one request (a provider that keeps characters makes every view at
    once)."""
    return f"{character_summary(character)} Full 360-degree turnaround set."[:_MAX_PROMPT]


def scene_prompt(character: CharacterRecord, scene_context: str) -> str:
    """A scene image: the character's facts, then the scene as the user wrote it."""
    return f"{character_summary(character)} Scene: {scene_context.strip()}"[:_MAX_PROMPT]


class PromptSuggester(Protocol):
    """Suggests the master reference prompt of a character."""

    async def suggest(self, character: CharacterRecord) -> str: ...


class FactualSuggester:
    """The deterministic suggester: :func:`reference_prompt`."""

    async def suggest(self, character: CharacterRecord) -> str:
        return reference_prompt(character)


_SYSTEM = (
    "You write one prompt for an image generator: the master reference image of a character. "
    "Use only the facts given. Do not add any name, age, colour, clothing, feature, place or "
    "style that is not in the facts. Write plain text in one paragraph, without quotation "
    "marks. End with these framing details, word for word: Framing: " + MASTER_FRAMING
)


class LlmSuggester:
    """Phrases the stored facts through an OpenAI-compatible chat endpoint; falls back to
    ``fallback`` when the endpoint is not configured, fails, or answers nothing usable."""

    def __init__(
        self,
        settings: CharacterLlmSettings,
        http: httpx.AsyncClient,
        environ: Mapping[str, str],
        fallback: PromptSuggester | None = None,
    ) -> None:
        self._settings = settings
        self._http = http
        self._environ = environ
        self._fallback = fallback or FactualSuggester()

    async def suggest(self, character: CharacterRecord) -> str:
        try:
            answer = await self._ask(character)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, TypeError) as exc:
            log.warning("characters.suggest.llm_failed", reason=type(exc).__name__)
            return await self._fallback.suggest(character)
        prompt = without_quotes(answer)
        if not prompt:
            log.warning("characters.suggest.llm_failed", reason="empty")
            return await self._fallback.suggest(character)
        if MASTER_FRAMING not in prompt:
            prompt = f"{prompt.rstrip(' .')}. Framing: {MASTER_FRAMING}"
        log.info("characters.suggest.llm", model=self._settings.model)
        return prompt[:_MAX_PROMPT]

    async def _ask(self, character: CharacterRecord) -> str:
        base = self._settings.base_url
        if not base:
            raise ValueError("characters.llm.base_url is not set")
        headers = {"Accept": "application/json"}
        if self._settings.api_key_env:
            key = self._environ.get(self._settings.api_key_env, "").strip()
            if not key:
                raise ValueError(f"{self._settings.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        facts = "\n".join(f"- {label}: {value}" for label, value in character_facts(character))
        body: dict[str, Any] = {
            "model": self._settings.model,
            "temperature": self._settings.temperature,
            "messages": [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": f"Facts:\n{facts}"},
            ],
        }
        response = await self._http.post(
            f"{base.rstrip('/')}/chat/completions",
            json=body,
            headers=headers,
            timeout=self._settings.timeout_s,
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("the answer's content is not text")
        return content


def build_suggester(
    config: CharacterSettings, http: httpx.AsyncClient, environ: Mapping[str, str]
) -> PromptSuggester:
    """The suggester ``characters.suggester`` names."""
    if config.suggester == "llm":
        return LlmSuggester(config.llm, http, environ)
    return FactualSuggester()
