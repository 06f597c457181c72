"""What one attempt of a provider job came to, as the job workflow passes it between its
steps (never stored: each step's own result is what DBOS keeps)."""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.engine.outcomes import ResultMetadata, StepError, Submission
from reelforge.errors import ProviderError

__all__ = ["Done", "Failed", "canceled_by_provider"]


@dataclass(frozen=True, slots=True)
class Done:
    """An attempt that made its outputs: what the record step needs (never stored)."""

    asset_ids: tuple[str, ...]
    cost_usd: str | None
    metadata: ResultMetadata
    submitted: Submission | None


@dataclass(frozen=True, slots=True)
class Failed:
    """An attempt that failed; ``resubmit``: whether trying again may help (not once the
    generation is paid for and only fetching or ingesting it failed); ``paid``: the provider
    billed it, so its charge is settled (at ``cost_usd`` if it said) rather than released."""

    error: StepError
    resubmit: bool = True
    paid: bool = False
    cost_usd: str | None = None


def canceled_by_provider() -> StepError:
    return StepError.of(ProviderError("The provider canceled the job."))
