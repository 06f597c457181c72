"""What a feature hands the engine: one :class:`JobSpec` per provider call, with its policies.

A spec is a :class:`~reelforge.providers.base.GenerationParams` (the same typed parameters the
provider's request is made of) plus what only the engine needs: the provider, input assets,
budget scopes, the feature's label and the policies below.

A feature decides its own retry and wait policies; the engine only carries them out:

- :class:`RetryPolicy`: how many times a job is tried again after a *retryable* error (a 429, a
  5xx, a timeout; never a refusal of the input or the content), with exponential backoff
  (``backoff_s * backoff_factor ** n``, capped) slept durably, so a crash does not shorten it.
  Keyframes use ``max_retries=2``; segments, characters and transform use 0.
- :class:`WaitPolicy`: how the job waits for its provider. A webhook (when the provider sends
  them and ``public_url`` is set) and a durable polling loop every
  ``poll_interval_s`` race; the first to report a final state wins and the other is ignored.
  Past ``cap_s`` the job stays alive: it is reported *pending* (event ``job_pending``, and
  :attr:`reelforge.engine.service.RunView.pending`), and keeps waiting at
  ``after_cap_interval_s`` until it ends or is canceled, or until ``give_up_after_s``, when it
  is canceled at the provider and fails with ``provider_timeout``.

``interactive`` work is dequeued ahead of batch work on the same provider queue.
Input images and reference images are referred to by asset id (the bytes are in the media
store): specs and every step result stay small, since DBOS stores them in its database.

A feature decides, too, whether the prompt is *kept* (``keep_prompt``; the transform feature's
is off by default, since its prompt holds the user's description). A prompt not kept is sent to
the provider but never stored for good: the catalog's ``jobs.prompt`` stays empty, the job's
``request`` holds it only while the job is open (what a crash recovery, and a run left without
its workflow, start again from) and is blanked when the job ends, and the engine's durable
workflow input never holds it (:func:`workflow_spec`): the submit step reads it from the job's
row (:func:`reelforge.engine.requests.generation_request`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelforge.budget.scopes import BudgetScope
from reelforge.providers.base import GenerationParams

__all__ = [
    "BATCH_PRIORITY",
    "INTERACTIVE_PRIORITY",
    "JobSpec",
    "Priority",
    "RetryPolicy",
    "WaitPolicy",
    "priority_value",
    "workflow_spec",
]

Priority = Literal["interactive", "batch"]
# DBOS dequeues lower numbers first; 0 (no priority given) would outrank both.
INTERACTIVE_PRIORITY = 1
BATCH_PRIORITY = 100


def priority_value(priority: Priority) -> int:
    return INTERACTIVE_PRIORITY if priority == "interactive" else BATCH_PRIORITY


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Policy):
    """Retries after retryable errors only, with exponential backoff."""

    max_retries: int = Field(default=0, ge=0, le=10)
    backoff_s: float = Field(default=1.0, ge=0.0, le=600.0)
    backoff_factor: float = Field(default=2.0, ge=1.0, le=10.0)
    max_backoff_s: float = Field(default=60.0, ge=0.0, le=3600.0)

    def delay_s(self, retry: int, retry_after: float | None = None) -> float:
        """The wait before retry number ``retry`` (1-based); a provider's Retry-After wins."""
        delay = min(self.backoff_s * self.backoff_factor ** (retry - 1), self.max_backoff_s)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff_s))
        return delay


class WaitPolicy(_Policy):
    """Webhook or polling, whichever reports first; pending past the cap, never dropped."""

    poll_interval_s: float = Field(default=2.0, ge=0.05, le=600.0)
    cap_s: float | None = Field(default=600.0, gt=0, description="Reported pending after this")
    after_cap_interval_s: float = Field(default=30.0, ge=0.05, le=3600.0)
    give_up_after_s: float | None = Field(default=None, gt=0)
    webhook: bool = True

    @model_validator(mode="after")
    def _give_up_after_the_cap(self) -> WaitPolicy:
        if (
            self.give_up_after_s is not None
            and self.cap_s is not None
            and self.give_up_after_s < self.cap_s
        ):
            raise ValueError("give_up_after_s must not come before cap_s")
        return self


class JobSpec(GenerationParams):
    """One provider call, as the engine stores it (the catalog's ``jobs.request``): the
    generation's parameters (shared with the provider's request), and the job's own fields."""

    provider: str = Field(min_length=1, max_length=64)
    input_asset_ids: tuple[str, ...] = ()
    reference_asset_ids: tuple[str, ...] = Field(
        default=(),
        # Left out of the stored shape when empty, which releases before it read unchanged.
        exclude_if=lambda ids: not ids,
        description="Reference images (a character's look), sent as the request's references",
    )
    scene: dict[str, Any] | None = Field(
        default=None, description="A SceneBrief as a dict (frame_id, description, characters...)"
    )
    label: str | None = Field(default=None, max_length=200, description="The feature's own key")
    template_name: str | None = None
    template_version: int | None = None
    budget_scopes: tuple[str, ...] = Field(
        default=(),
        description="Budget scopes the job is charged to, as 'kind:id' (BudgetScope.key); "
        "every capped one must allow it",
    )
    retry: RetryPolicy = RetryPolicy()
    wait: WaitPolicy | None = Field(default=None, description="None: the run's wait policy")
    keep_prompt: bool = Field(
        default=True,
        # Left out of the stored shape when True, which releases before it read unchanged.
        exclude_if=lambda keep: keep is True,
        description="False: the prompt is sent, and kept only while the job is open (see the "
        "module docstring)",
    )

    @field_validator("budget_scopes")
    @classmethod
    def _valid_scopes(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(BudgetScope.parse(key).key for key in keys)


def workflow_spec(request: Mapping[str, Any]) -> dict[str, Any]:
    """A job's recorded spec (its ``request``) as the engine's durable workflow input holds it:
    without the prompt when the job does not keep it."""
    if request.get("keep_prompt") is False:
        return {**request, "prompt": ""}
    return dict(request)
