"""Dry runs: what a feature plans to call, and what that would cost, without calling anything.

A feature builds a :class:`Plan` of :class:`PlannedJob` s (provider, capability, model, sizes,
durations, options) and asks the budget service to estimate it; with ``"dry_run": true`` (REST,
MCP) or ``--dry-run`` (CLI) it returns :meth:`PlanEstimate.to_json` instead of starting the run.
A feature with a cheaper fallback (a cutscene served as a still without its clip) offers
several plans, best first, to :meth:`reelforge.budget.service.BudgetService.choose_plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reelforge.budget.prices import JobEstimate
from reelforge.budget.records import Affordability, usd
from reelforge.providers.base import Capability, GenerationRequest, PriceQuery

__all__ = ["Plan", "PlanEstimate", "PlannedJob"]


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """One provider call a feature would make, as far as its price goes: its parameters, no
    prompt and no input image (a dry run prices a plan before any input exists). Build it from
    the fields a job spec has (:meth:`build`), or from a request already made (:meth:`of`)."""

    provider: str
    query: PriceQuery
    label: str | None = None

    @classmethod
    def build(
        cls,
        provider: str,
        capability: Capability,
        *,
        model: str | None = None,
        width: int = 1280,
        height: int = 720,
        duration_s: float | None = None,
        options: Mapping[str, Any] | None = None,
        input_images: int = 0,
        label: str | None = None,
        reference_count: int = 0,
    ) -> PlannedJob:
        count = max(input_images, 1 if capability.needs_image else 0)
        query = PriceQuery(
            capability=capability,
            model=model,
            width=width,
            height=height,
            duration_s=duration_s,
            options=dict(options or {}),
            image_count=count,
            reference_count=reference_count,
        )
        return cls(provider, query, label)

    @classmethod
    def of(cls, provider: str, request: GenerationRequest, label: str | None = None) -> PlannedJob:
        return cls(provider, PriceQuery.of(request), label)


@dataclass(frozen=True, slots=True)
class Plan:
    """The calls of one way to do a feature's work. ``degraded``: a fallback, not the best."""

    jobs: tuple[PlannedJob, ...]
    name: str = "full"
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class PlanEstimate:
    """A plan's cost, job by job, and (given scopes) whether every scope can afford it now."""

    plan: Plan
    jobs: tuple[JobEstimate, ...]
    affordability: Affordability | None = None

    @property
    def total_usd(self) -> Decimal:
        """The priced jobs' sum; see :attr:`unpriced` for the others."""
        return sum((job.amount_usd for job in self.jobs if job.amount_usd is not None), Decimal(0))

    @property
    def unpriced(self) -> tuple[JobEstimate, ...]:
        return tuple(job for job in self.jobs if not job.priced)

    @property
    def affordable(self) -> bool | None:
        """None without scopes. A job of unknown price is not affordable under a cap."""
        if self.affordability is None:
            return None
        capped = any(b.cap_usd is not None for b in self.affordability.balances)
        return self.affordability.affordable and not (capped and self.unpriced)

    def to_json(self) -> dict[str, Any]:
        """The dry-run answer: ``{"dry_run": true, "plan", "total_usd", "per_job", ...}``."""
        body: dict[str, Any] = {
            "dry_run": True,
            "plan": self.plan.name,
            "degraded": self.plan.degraded,
            "total_usd": usd(self.total_usd),
            "per_job": [job.to_json() for job in self.jobs],
            "unpriced": [job.label or job.model for job in self.unpriced],
            "affordable": self.affordable,
            "limiting_scope": None,
            "remaining_by_scope": [],
        }
        if self.affordability is not None:
            limiting = self.affordability.limiting
            body["limiting_scope"] = None if limiting is None else limiting.scope.key
            body["remaining_by_scope"] = [b.to_json() for b in self.affordability.balances]
        return body
