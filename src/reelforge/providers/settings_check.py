"""The settings that concern providers, checked once, when the registry is built at start-up.

Each adapter owns its section (``providers.<id>``), validated against its settings model here,
all of them at once, so that a bad entry (a price below zero, a misspelt field) stops the
process at start-up instead of failing every call, price list and webhook of that provider
later. Settings elsewhere that name providers (``budget.prices.<id>``, ``engine.queues.<id>``,
``transform.image_providers``...) must name known ones. Every problem is listed in one
:class:`~reelforge.errors.ConfigurationError`, each by its setting's full name, never its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from reelforge.errors import ConfigurationError
from reelforge.providers.base import Provider, ProviderSettings
from reelforge.settings import Settings
from reelforge.validation import validation_problems

__all__ = ["check_references", "provider_references", "validated_sections"]


def validated_sections(
    settings: Settings, classes: Mapping[str, type[Provider]]
) -> dict[str, ProviderSettings]:
    """Every provider's ``providers.<id>`` section, validated by its adapter's settings model."""
    unknown = sorted(set(settings.providers) - set(classes))
    if unknown:
        raise ConfigurationError(
            f"Settings name unknown providers: {', '.join(unknown)}.",
            details={"unknown": unknown, "known": sorted(classes)},
        )
    sections: dict[str, ProviderSettings] = {}
    problems: list[dict[str, str]] = []
    for provider_id, cls in classes.items():
        try:
            sections[provider_id] = cls.settings_model.model_validate(
                settings.provider_section(provider_id)
            )
        except ValidationError as exc:
            problems += [
                {"setting": f"providers.{provider_id}.{p['field']}", "problem": p["problem"]}
                for p in validation_problems(exc.errors())
            ]
    _refuse(problems)
    return sections


def provider_references(settings: Settings) -> Iterable[tuple[str, str]]:
    """``(setting, provider id)`` for every setting outside ``providers`` that names one by id."""
    for provider_id in settings.budget.prices:
        yield f"budget.prices.{provider_id}", provider_id
    for provider_id in settings.engine.queues:
        yield f"engine.queues.{provider_id}", provider_id
    for provider_id in settings.engine.inline_providers:
        yield "engine.inline_providers", provider_id
    transform = settings.transform
    for name in ("image_providers", "video_providers"):
        for provider_id in getattr(transform, name) or ():
            yield f"transform.{name}", provider_id
    for name in ("prompt_limits", "provider_timeouts_s"):
        for provider_id in getattr(transform, name):
            yield f"transform.{name}.{provider_id}", provider_id


def check_references(
    settings: Settings, classes: Mapping[str, type[Provider]], names: Mapping[str, str]
) -> None:
    """Refuse a setting that names an unknown provider (``names``: every name -> its id)."""
    problems = []
    for setting, provider_id in provider_references(settings):
        if provider_id not in classes:
            problems.append({"setting": setting, "problem": _unknown(provider_id, names)})
    chosen = settings.characters.provider
    if chosen is not None and chosen.strip().lower() not in names:
        problems.append({"setting": "characters.provider", "problem": _unknown(chosen, names)})
    _refuse(problems, known=sorted(classes))


def _unknown(name: str, names: Mapping[str, str]) -> str:
    provider_id = names.get(name.strip().lower())
    if provider_id is not None:
        return f"{name!r} is a name of provider {provider_id!r}: use its id here"
    return f"{name!r} is not a known provider"


def _refuse(problems: list[dict[str, str]], **details: Any) -> None:
    if not problems:
        return
    listed = "; ".join(f"{p['setting']} ({p['problem']})" for p in problems)
    raise ConfigurationError(
        f"Invalid settings: {listed}.", details={"settings": problems, **details}
    )
