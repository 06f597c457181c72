"""The one contract every feature follows: plan a run, let the engine run it, finish it.

A feature (keyframes, segments, characters, cutscenes, transform, or one of a user's own) is a
:class:`RunFeature`:

- :meth:`RunFeature.parse` turns a face's JSON into the feature's typed request (a typed
  :class:`~reelforge.errors.InvalidInput` for bad input);
- :meth:`RunFeature.plan` turns the request into a :class:`RunPlan`: the jobs (one
  :class:`~reelforge.engine.specs.JobSpec` per provider call, budget scopes and prompts in
  them), the wait policy, the priority and what to keep as the run's input;
- :meth:`RunFeature.finish` is the run's durable final step. The engine calls it once the run's
  last job has ended (or the run was canceled), whether or not anyone is waiting, inside the
  run workflow's finish step: it builds and stores the feature's response and records, counts
  metrics, announces events. The response it returns is stored on the run in the same
  transaction as the run's final status. A crash may run it twice, so it must be idempotent.
  A feature of several stages starts the next stage's run from its finish, under a run id it
  chose (:attr:`RunPlan.run_id`), so a second finish starts nothing new.

A feature that records work of its own before it starts that work's run (a transform, recorded
``running`` while its input is prepared) is also an :class:`UnstartedWork`: a process that dies
between the two leaves a record no run will ever finish, and every process that runs work asks
the feature, at boot and every heartbeat, to end such records
(:mod:`reelforge.engine.stranded`).

:class:`FeatureDirectory` holds the features of one process by name. The composition root
fills it before the engine starts, so the recovery of a half-finished run finds its finisher.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from reelforge.catalog.records import JobRecord, RunRecord, RunStatus
from reelforge.engine.specs import JobSpec, Priority, WaitPolicy
from reelforge.errors import ConfigurationError, NotFound

__all__ = [
    "FeatureDirectory",
    "FinishedRun",
    "RunFeature",
    "RunPlan",
    "UnstartedWork",
    "stable_run_id",
]

_RUN_IDS = uuid.UUID("5c6b0a8e-3f1d-4e52-9a57-0d4f7c2b9e61")

RequestT = TypeVar("RequestT")


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What a feature asks the engine to run."""

    jobs: Sequence[JobSpec]
    input: Mapping[str, Any] = field(default_factory=dict)
    wait: WaitPolicy | None = None
    priority: Priority = "interactive"
    project_id: str | None = None
    #: A run id the feature chose (:func:`stable_run_id`), else a new one. A finish that
    #: starts the next stage of its feature names that stage's run, so running the finish
    #: again starts nothing new (see :meth:`EngineService.start_run
    #: <reelforge.engine.service.EngineService.start_run>`).
    run_id: str | None = None
    #: The caller's own trace id (32 hex digits; the segments spec's orchestrator context):
    #: the run's spans and log lines go under it rather than under the request's.
    trace_id: str | None = None


def stable_run_id(*names: str) -> str:
    """The run id ``names`` always give (32 hex digits, like every run id), for a run that a
    feature must start at most once (e.g. ``stable_run_id("cutscenes", cutscene_id, "clip")``)."""
    return uuid.uuid5(_RUN_IDS, "\x1f".join(names)).hex


@dataclass(frozen=True, slots=True)
class FinishedRun:
    """A run whose jobs have all ended, as its feature's finish step sees it."""

    run: RunRecord
    jobs: tuple[JobRecord, ...]
    status: RunStatus
    retries: Mapping[str, int]

    @property
    def id(self) -> str:
        return self.run.id

    def jobs_by_label(self) -> dict[str | None, JobRecord]:
        return {job.request.get("label"): job for job in self.jobs}


@runtime_checkable
class RunFeature(Protocol[RequestT]):
    """A feature as the engine and the generic faces see it."""

    @property
    def name(self) -> str: ...

    def parse(self, data: Mapping[str, Any]) -> RequestT: ...

    async def plan(self, request: RequestT, *, project_id: str | None = None) -> RunPlan: ...

    async def finish(self, run: FinishedRun) -> Mapping[str, Any] | None: ...


@runtime_checkable
class UnstartedWork(Protocol):
    """A feature whose own records can outlive a run that was never started."""

    async def end_unstarted(self, recorded_before: datetime) -> list[str]:
        """End the feature's records made before ``recorded_before`` whose run was never
        started (their process died in between); the ids of those ended. Records whose run
        exists are left to it: the engine starts a stranded run, and its finish ends them."""
        ...


class FeatureDirectory:
    """The features of this process, by name."""

    def __init__(self, features: Iterable[RunFeature[Any]] = ()) -> None:
        self._features: dict[str, RunFeature[Any]] = {}
        for feature in features:
            self.add(feature)

    def add(self, feature: RunFeature[Any]) -> None:
        if feature.name in self._features:
            raise ConfigurationError(f"Two features are named {feature.name!r}.")
        self._features[feature.name] = feature

    def get(self, name: str) -> RunFeature[Any]:
        feature = self._features.get(name)
        if feature is None:
            raise NotFound(
                f"No feature named {name!r}.", details={"feature": name, "known": self.names()}
            )
        return feature

    def finisher(self, name: str) -> RunFeature[Any] | None:
        """The feature that finishes runs named ``name`` (None: a run with no feature logic,
        such as a bare engine run)."""
        return self._features.get(name)

    def names(self) -> list[str]:
        return sorted(self._features)

    def __iter__(self) -> Iterator[RunFeature[Any]]:
        return iter(self._features.values())

    def __contains__(self, name: object) -> bool:
        return name in self._features
