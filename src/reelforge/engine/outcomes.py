"""What each step of a provider job returns, typed, and how it is checkpointed.

DBOS stores every step's result, and a workflow resumed after a crash or an upgrade reads the
stored results back instead of running those steps again. So a step hands DBOS plain JSON-like
data (:meth:`Outcome.checkpoint`, in the shapes :mod:`reelforge.engine.states` describes), and
the workflow turns what the step (or an older release of it) stored into these types with the
``*_outcome`` readers below. The readers take every shape earlier releases stored: a field added
since has a default, and keys that are no longer read are ignored.

- :class:`Submitted` | :class:`InDoubt` | :class:`Ended` | :class:`Failure`: the submit step
  (and its recovery, ``reelforge.job.recover_submit``); a synchronous provider's result comes
  with the submission (:attr:`Submitted.result`);
- :class:`ProviderReport`: a poll's, or a webhook's, word on the provider's job;
- :class:`Fetched` | :class:`Failure`: the fetch step;
- :class:`Ingested` | :class:`Failure`: the ingest step, and an inline run (with its cost and
  metadata) when that ends with :class:`Ended` instead;
- :class:`JobEnd`: the record and fail steps (older releases stored the bare status).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from reelforge.catalog.records import JobError
from reelforge.errors import ReelforgeError
from reelforge.providers.base import JobHandle, Succeeded

__all__ = [
    "FINAL_STATES",
    "Checkpoint",
    "Ended",
    "Failure",
    "FetchOutcome",
    "Fetched",
    "InDoubt",
    "IngestOutcome",
    "Ingested",
    "InlineOutcome",
    "JobEnd",
    "OutputRef",
    "ProviderReport",
    "ResultMetadata",
    "StepError",
    "Submission",
    "SubmitOutcome",
    "Submitted",
    "fetch_outcome",
    "ingest_outcome",
    "inline_outcome",
    "job_end",
    "provider_report",
    "submit_outcome",
]

#: A step's result as DBOS stores it: JSON-like, never a class of ours.
Checkpoint: TypeAlias = dict[str, Any]

FINAL_STATES = frozenset({"succeeded", "failed", "canceled"})
ReportedState = Literal[
    "queued", "running", "succeeded", "failed", "canceled", "unknown", "timeout"
]


class Outcome(BaseModel):
    """Base of the step results: frozen; keys it does not know are ignored when reading."""

    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)

    def checkpoint(self) -> Checkpoint:
        return self.model_dump(mode="json")


class StepError(Outcome):
    """A Reelforge error as a value: a step reports it, the workflow applies the retry policy.
    ``details``: the error's structured context, kept only where the engine reads it again
    (a paid output's failure, whose cause the job's final error carries); stored only when
    not empty, so every other step's checkpoint keeps its shape."""

    code: str = "INTERNAL_ERROR"
    message: str = ""
    retryable: bool = False
    retry_after: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, error: ReelforgeError, *, details: bool = False) -> StepError:
        return cls(
            code=error.code,
            message=error.message,
            retryable=error.retryable,
            retry_after=error.retry_after,
            # JSON-safe, since DBOS and the job's history store it.
            details=json.loads(json.dumps(error.details, default=str)) if details else {},
        )

    @model_serializer(mode="wrap")
    def _without_empty_details(self, handler: SerializerFunctionWrapHandler) -> Any:
        stored = handler(self)
        if isinstance(stored, dict) and not stored.get("details"):
            stored.pop("details", None)
        return stored

    def job_error(self) -> JobError:
        """What the catalog records of it."""
        return JobError(code=self.code, message=self.message)


class ResultMetadata(Outcome):
    """How the provider made the outputs (kept on the job as ``provider_metadata``)."""

    model: str = ""
    seed: int | None = None
    steps: int | None = None
    inference_time_ms: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("seed", "steps", "inference_time_ms", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> int | None:
        # Vendors' own figures: one that is not a whole number is not worth failing a paid job.
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        return None

    @classmethod
    def of(cls, result: Succeeded) -> ResultMetadata:
        meta = result.metadata
        return cls(
            model=meta.model,
            seed=meta.seed,
            steps=meta.steps,
            inference_time_ms=meta.inference_time_ms,
            # Vendor facts a feature may need later, in another process (e.g. the Character
            # Library's ids), made JSON-safe since they are stored.
            extra=json.loads(json.dumps(dict(meta.extra), default=str)),
        )


class OutputRef(Outcome):
    """One output of a finished job: a URL still to ingest, or the asset made from its bytes."""

    index: int
    url: str | None = None
    asset_id: str | None = None

    @model_validator(mode="after")
    def _url_or_asset(self) -> OutputRef:
        if (self.url is None) == (self.asset_id is None):
            raise ValueError("an output has a URL or an asset id")
        return self


class Fetched(Outcome):
    """The finished job's outputs, its cost as the provider reported it, and its metadata."""

    outcome: Literal["fetched"] = "fetched"
    outputs: tuple[OutputRef, ...]
    cost_usd: str | None = None
    metadata: ResultMetadata | None = None


class Submission(Outcome):
    """What the job's history records when the provider accepts an attempt."""

    attempt: int
    handle: JobHandle
    reservation_id: str | None = None
    estimate_usd: str | None = None

    def detail(self) -> dict[str, Any]:
        """The history entry's shape (absent keys rather than nulls)."""
        return self.model_dump(mode="json", include=set(Submission.model_fields), exclude_none=True)

    @field_serializer("handle")
    def _handle_as_before(self, handle: JobHandle) -> dict[str, Any]:
        # A handle stores the keys earlier releases read; ``cost_usd`` only when a vendor said.
        stored: dict[str, Any] = {
            "provider": handle.provider,
            "request_id": handle.request_id,
            "model": handle.model,
            "urls": dict(handle.urls),
        }
        if handle.cost_usd is not None:
            stored["cost_usd"] = str(handle.cost_usd)
        return stored

    def accepted_at(self, at: float, result: Fetched | None = None) -> Submitted:
        fields = {name: getattr(self, name) for name in Submission.model_fields}
        return Submitted(**fields, at=at, result=result)


class Submitted(Submission):
    """The provider accepted the attempt at ``at`` (the engine's clock, in seconds).
    ``result``: the outputs of a provider that answered synchronously, stored by the submit
    step itself (inline bytes already assets, URLs still to ingest), so the workflow neither
    waits nor fetches; None for a job that runs at the provider (and in earlier releases)."""

    outcome: Literal["submitted"] = "submitted"
    at: float
    result: Fetched | None = None


class InDoubt(Outcome):
    """A submission of the attempt may have reached the provider (the process died, or the
    call failed, after sending) and was not found yet: the workflow waits (a webhook may
    name it) and asks again, until ``until`` (the engine's clock); then the step submits
    again or, after a failed call, reports ``error``."""

    outcome: Literal["in_doubt"] = "in_doubt"
    until: float
    error: StepError | None = None


class Ended(Outcome):
    """The job had already ended (canceled, say) when the step looked."""

    outcome: Literal["ended"] = "ended"
    status: str


class Failure(Outcome):
    """The step failed with ``error``; the workflow decides whether to try again."""

    outcome: Literal["error"] = "error"
    error: StepError


class Ingested(Outcome):
    """The outputs are assets of the job; an inline run adds the cost and metadata it saw."""

    outcome: Literal["ingested"] = "ingested"
    asset_ids: tuple[str, ...]
    cost_usd: str | None = None
    metadata: ResultMetadata | None = None


class ProviderReport(Outcome):
    """The provider's job as a poll or a webhook saw it at ``at``. A ``succeeded`` report
    carries the outputs when they are all URLs (None when some came as bytes), so the workflow
    need not fetch them; ``unknown``: the provider could not be asked this time; ``timeout``:
    the engine gave up waiting (never stored)."""

    state: ReportedState
    position: int | None = None
    progress: float | None = None
    error: StepError | None = None
    outputs: tuple[OutputRef, ...] | None = None
    cost_usd: str | None = None
    metadata: ResultMetadata | None = None
    reason: str | None = None
    at: float | None = None
    request_id: str | None = None
    event_id: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class JobEnd(Outcome):
    """The job's final status, and whether its run had no open job left (None: not looked)."""

    status: str
    run_settled: bool | None = None
    #: The run's retry round when it settled, whose workflow is told (0, left out: the run's).
    retry_round: int = Field(default=0, exclude_if=lambda round_: round_ == 0)


SubmitOutcome: TypeAlias = Annotated[
    Submitted | InDoubt | Ended | Failure, Field(discriminator="outcome")
]
InlineOutcome: TypeAlias = Annotated[Ingested | Ended | Failure, Field(discriminator="outcome")]
FetchOutcome: TypeAlias = Annotated[Fetched | Failure, Field(discriminator="outcome")]
IngestOutcome: TypeAlias = Annotated[Ingested | Failure, Field(discriminator="outcome")]

_SUBMIT: TypeAdapter[Submitted | InDoubt | Ended | Failure] = TypeAdapter(SubmitOutcome)
_INLINE: TypeAdapter[Ingested | Ended | Failure] = TypeAdapter(InlineOutcome)
_FETCH: TypeAdapter[Fetched | Failure] = TypeAdapter(FetchOutcome)
_INGEST: TypeAdapter[Ingested | Failure] = TypeAdapter(IngestOutcome)


def submit_outcome(stored: Checkpoint) -> Submitted | InDoubt | Ended | Failure:
    return _SUBMIT.validate_python(stored)


def inline_outcome(stored: Checkpoint) -> Ingested | Ended | Failure:
    return _INLINE.validate_python(stored)


def fetch_outcome(stored: Checkpoint) -> Fetched | Failure:
    return _FETCH.validate_python(stored)


def ingest_outcome(stored: Checkpoint) -> Ingested | Failure:
    return _INGEST.validate_python(stored)


def provider_report(stored: Checkpoint) -> ProviderReport:
    return ProviderReport.model_validate(stored)


def job_end(stored: Checkpoint | str) -> JobEnd:
    """A record or fail step's result (older releases stored the status alone)."""
    if isinstance(stored, str):
        return JobEnd(status=stored)
    return JobEnd.model_validate(stored)
