"""What one cutscene costs under a campaign's media settings, and the settings that can never
make a clip.

A cutscene is a still and a clip, priced from the settings alone (providers, models, the
quality's frame size, the clip's length) by the budget's price table, without calling anyone.
:func:`check_settings` refuses, when media is turned on, settings whose budgets can never pay
for one: a per-session (or per-campaign) budget below the still and its clip, or a capped budget
over a job no one can price (the budget refuses unpriced work under a cap). The refusal is
``INVALID_INPUT`` naming the fields to change, with the prices and, where one fits, the longest
clip the budget covers. Without such a check every clip would be skipped, one trigger at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reelforge.budget.plans import PlannedJob
from reelforge.budget.prices import JobEstimate
from reelforge.budget.records import usd
from reelforge.budget.service import BudgetService
from reelforge.errors import InvalidInput
from reelforge.features.cutscenes import planning
from reelforge.features.cutscenes.schemas import MediaSettings

__all__ = ["CutsceneCost", "check_settings", "cutscene_cost"]

_STILL_FIELDS = ("image_provider", "image_model", "quality")
_CLIP_FIELDS = ("video_provider", "video_model", "clip_duration_s")
_BUDGET_FIELDS = ("budget_per_session_usd", "budget_per_campaign_usd")


@dataclass(frozen=True, slots=True)
class CutsceneCost:
    """A still and its clip as the settings would make them, each priced (or unpriced)."""

    still: JobEstimate
    clip: JobEstimate

    @property
    def total_usd(self) -> Decimal | None:
        if self.still.amount_usd is None or self.clip.amount_usd is None:
            return None
        return self.still.amount_usd + self.clip.amount_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "still_usd": usd(self.still.amount_usd),
            "clip_usd": usd(self.clip.amount_usd),
            "cutscene_usd": usd(self.total_usd),
        }


def cutscene_cost(
    budget: BudgetService, settings: MediaSettings, *, default_provider: str
) -> CutsceneCost:
    """The still and the clip ``settings`` ask for, priced. A provider or model that cannot
    make its part is refused with ``INVALID_INPUT`` naming the settings' fields."""
    still, clip = _jobs(settings, default_provider)
    return CutsceneCost(_price(budget, still, _STILL_FIELDS), _price(budget, clip, _CLIP_FIELDS))


def check_settings(
    budget: BudgetService, settings: MediaSettings, *, default_provider: str
) -> CutsceneCost:
    """``settings``' cutscene cost; ``INVALID_INPUT`` when a budget they set can never pay for
    a still and its clip. See the module docstring."""
    cost = cutscene_cost(budget, settings, default_provider=default_provider)
    for field in _BUDGET_FIELDS:
        cap: Decimal | None = getattr(settings, field)
        if cap is None:
            continue
        unpriced = [job for job in (cost.still, cost.clip) if not job.priced]
        if unpriced:
            raise _unpriced(field, cap, unpriced, cost)
        total = cost.total_usd
        assert total is not None
        if total > cap:
            raise _over_budget(budget, settings, default_provider, field, cap, cost)
    return cost


def _jobs(settings: MediaSettings, default_provider: str) -> tuple[PlannedJob, PlannedJob]:
    still = planning.still_spec(
        settings, default_provider=default_provider, prompt="-", scene={}, scopes=()
    )
    clip = planning.clip_spec(
        settings, default_provider=default_provider, motion_prompt="-", scopes=()
    )
    full = planning.plans(still, clip)[0]
    return full.jobs[0], full.jobs[1]


def _price(budget: BudgetService, job: PlannedJob, fields: tuple[str, ...]) -> JobEstimate:
    try:
        return budget.estimate(job).jobs[0]
    except InvalidInput as exc:
        problem = f"{job.label}: {exc.message}"
        raise InvalidInput(
            f"The media settings cannot make a {job.label}: {exc.message}",
            details={
                **exc.details,
                "fields": [{"field": name, "problem": problem} for name in fields[:2]],
            },
        ) from None


def _unpriced(
    field: str, cap: Decimal, unpriced: list[JobEstimate], cost: CutsceneCost
) -> InvalidInput:
    names = ", ".join(f"{job.provider} {job.model!r}" for job in unpriced)
    problem = f"no price is known for {names}, and a capped budget refuses unpriced work"
    knobs = [name for job in unpriced for name in _knobs(job)]
    return InvalidInput(
        f"These media settings can never make a cutscene: {problem}. Price it under "
        "budget.prices.<provider>.<model> (or the provider's own prices), or pick a priced "
        "model.",
        details={
            "fields": [{"field": name, "problem": problem} for name in (field, *knobs)],
            "budget_usd": usd(cap),
            **cost.to_json(),
        },
    )


def _over_budget(
    budget: BudgetService,
    settings: MediaSettings,
    default_provider: str,
    field: str,
    cap: Decimal,
    cost: CutsceneCost,
) -> InvalidInput:
    assert cost.still.amount_usd is not None
    assert cost.clip.amount_usd is not None
    total = cost.still.amount_usd + cost.clip.amount_usd
    problem = (
        f"a cutscene (still ${usd(cost.still.amount_usd)} + {settings.clip_duration_s:g} s "
        f"clip ${usd(cost.clip.amount_usd)} = ${usd(total)}) never fits ${usd(cap)}"
    )
    shorter = _longest_clip_within(budget, settings, default_provider, cap)
    hint = (
        f"a clip_duration_s of {shorter:g} fits"
        if shorter is not None
        else "no clip length of this model fits"
    )
    knobs = _CLIP_FIELDS if cost.still.amount_usd <= cap else (*_STILL_FIELDS, *_CLIP_FIELDS)
    return InvalidInput(
        f"These media settings can never make a clip: {problem} ({field}); {hint}. Raise the "
        "budget, or choose a cheaper video model or a shorter clip.",
        details={
            "fields": [{"field": name, "problem": problem} for name in (field, *knobs)],
            "budget_usd": usd(cap),
            **cost.to_json(),
            "clip_duration_s_that_fits": shorter,
        },
    )


def _longest_clip_within(
    budget: BudgetService, settings: MediaSettings, default_provider: str, cap: Decimal
) -> float | None:
    """The longest whole-second clip, shorter than the settings', whose cutscene fits ``cap``."""
    seconds = int(settings.clip_duration_s)
    if seconds == settings.clip_duration_s:
        seconds -= 1
    for length in range(seconds, 0, -1):
        shorter = settings.model_copy(update={"clip_duration_s": float(length)})
        total = cutscene_cost(budget, shorter, default_provider=default_provider).total_usd
        if total is not None and total <= cap:
            return float(length)
    return None


def _knobs(job: JobEstimate) -> tuple[str, ...]:
    return _STILL_FIELDS[:2] if job.label == planning.STILL_LABEL else _CLIP_FIELDS[:2]
