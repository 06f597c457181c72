"""A paid generation's outputs are not thrown away by a transient fault: tried again, durably.

Once the provider reports success the generation is billed, so fetching its result and
ingesting its outputs must not fail the job at the first glitch. Each fetch or ingest step
already tries a few times in place (:func:`reelforge.engine.retrying.patiently`); when the step
still fails, the job workflow asks :meth:`PaidOutputs.retry` what to do and either sleeps
durably (``DBOS.sleep``) and runs the failed step again, or gives up. The window is
``engine.paid_output_retry_s`` from the first failed step, recorded in the step's result, so a
crash neither restarts nor shortens it, and a replay takes the same decisions.

Transient here (:func:`reelforge.engine.retrying.is_paid_output_fault`): anything retryable (a
5xx, a 429, a timeout, a dropped or truncated download, a result body the adapter could not
read when it says so), an output URL that refuses the download (404, 410...), a file that is
short or will not decode. Not transient: a URL our guard refuses, a file over the size cap, a
provider's own refusal; these give up at once.

A job that gives up fails with one of the documented generic codes, picked by the cause:

- ``provider_timeout``: the last try timed out (the provider's API, or the download);
- ``provider_unavailable``: the result or its output URL kept failing (5xx, 429, 404/410,
  connection errors, truncated downloads);
- ``provider_error``: anything else (a file that kept arriving corrupt, a provider error,
  a URL our guard refuses, a file too large, our storage).

The cause (code, message, details), the stage (``fetch`` or ``ingest``), the tries and the
seconds spent are in the error's ``details``; the charge is settled, not released, since the
provider billed (:meth:`reelforge.engine.operations.JobOperations.fail`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal

from reelforge.catalog import Catalog
from reelforge.engine.outcomes import (
    Failure,
    Fetched,
    Ingested,
    Outcome,
    OutputRef,
    ResultMetadata,
    StepError,
)
from reelforge.engine.outputs import JobOutputs
from reelforge.engine.retrying import PAID_OUTPUT_FAULTS, is_paid_output_fault, patiently
from reelforge.errors import (
    FetchFailed,
    FetchRejected,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    ReelforgeError,
    Timeout,
)
from reelforge.log import get_logger
from reelforge.providers.base import JobHandle, OutputMedia
from reelforge.providers.registry import ProviderRegistry

__all__ = ["OutputRetry", "PaidOutputs", "Stage", "output_retry", "paid_failure"]

log = get_logger(__name__)

Stage = Literal["fetch", "ingest"]

_FIRST_DELAY_S = 1.0
_MAX_DELAY_S = 15.0
_TIMEOUTS = frozenset({ProviderTimeout.code, Timeout.code})
_UNAVAILABLE = frozenset(
    {
        FetchFailed.code,
        FetchRejected.code,
        ProviderUnavailable.code,
        ProviderRateLimited.code,
    }
)


class OutputRetry(Outcome):
    """The retry step's decision, as DBOS stores it: sleep ``delay_s`` and run the failed
    step again, or (``error`` set) fail the job with ``error``. ``tries``: failed steps so far;
    ``started`` and ``deadline``: the window, in the engine's clock (seconds)."""

    tries: int
    started: float
    deadline: float
    delay_s: float = 0.0
    error: StepError | None = None


def output_retry(stored: dict[str, Any]) -> OutputRetry:
    return OutputRetry.model_validate(stored)


def is_transient_error(error: StepError) -> bool:
    """:func:`reelforge.engine.retrying.is_paid_output_fault`, for an error as a value."""
    return error.retryable or error.code in PAID_OUTPUT_FAULTS


def paid_failure(
    cause: StepError, stage: Stage, tries: int, spent_s: float, transient: bool
) -> StepError:
    """The job's final error for a paid output given up on (see the module docstring)."""
    if cause.code in _TIMEOUTS or (cause.code == FetchFailed.code and "timeout" in cause.details):
        code = ProviderTimeout.code
    elif cause.code in _UNAVAILABLE:
        code = ProviderUnavailable.code
    else:
        code = ProviderError.generic_code
    what = "its result could not be read" if stage == "fetch" else "its output could not be stored"
    after = f" after {tries} tries over {spent_s:.0f} s" if transient else ""
    return StepError(
        code=code,
        message=f"The provider billed the generation, but {what}{after}: {cause.message}",
        details={
            "paid": True,
            "stage": stage,
            "tries": tries,
            "spent_s": round(spent_s, 3),
            "cause": cause.model_dump(mode="json"),
        },
    )


class PaidOutputs:
    """A finished job's fetch and ingest steps, and whether a failed one is tried again."""

    def __init__(
        self,
        catalog: Catalog,
        providers: ProviderRegistry,
        outputs: JobOutputs,
        clock: Callable[[], float],
        window_s: float,
    ) -> None:
        self._catalog = catalog
        self._providers = providers
        self._outputs = outputs
        self._clock = clock
        self._window_s = window_s

    async def fetch(self, job_id: str, handle: JobHandle, attempt: int) -> Fetched | Failure:
        """The finished job's outputs: URLs to ingest, or assets already made from inline bytes
        (bytes never leave this step). A failure carries the error's details, for the job's
        final error if it comes to that."""
        provider = self._providers.get(handle.provider)
        outputs: list[OutputRef] = []
        try:
            result = await patiently(lambda: provider.result(handle))
            for index, output in enumerate(result.outputs):
                if output.data is not None:
                    asset_id = await self._outputs.ingest(job_id, attempt, index, output)
                    outputs.append(OutputRef(index=index, asset_id=asset_id))
                else:
                    outputs.append(OutputRef(index=index, url=output.url))
        except ReelforgeError as exc:
            return Failure(error=StepError.of(exc, details=True))
        return Fetched(
            outputs=tuple(outputs),
            cost_usd=None if result.cost_usd is None else str(result.cost_usd),
            metadata=ResultMetadata.of(result),
        )

    async def ingest(
        self, job_id: str, attempt: int, outputs: Sequence[OutputRef]
    ) -> Ingested | Failure:
        """Every output into the store and the catalog, attached to the job, in order; each
        download tried a few times over a paid output's faults. Outputs already ingested (by an
        earlier try, under their fixed asset ids) are found, not downloaded again."""
        asset_ids: list[str] = []
        try:
            for output in outputs:
                if output.asset_id is not None:
                    asset_ids.append(output.asset_id)
                    continue
                media = OutputMedia(url=output.url)
                ingest = partial(self._outputs.ingest, job_id, attempt, output.index, media)
                asset_ids.append(await patiently(ingest, transient=is_paid_output_fault))
        except ReelforgeError as exc:
            return Failure(error=StepError.of(exc, details=True))
        return Ingested(asset_ids=tuple(asset_ids))

    async def retry(
        self, job_id: str, stage: Stage, error: StepError, previous: OutputRetry | None
    ) -> OutputRetry:
        """After the ``stage`` step failed with ``error``: when to try again, or the job's
        final error. ``previous``: this step's last decision for the job (None at the first
        failure, which opens the window)."""
        now = self._clock()
        started = now if previous is None else previous.started
        deadline = started + self._window_s if previous is None else previous.deadline
        tries = 1 if previous is None else previous.tries + 1
        window = {"tries": tries, "started": started, "deadline": deadline}
        transient = is_transient_error(error)
        if not transient or now >= deadline:
            final = paid_failure(error, stage, tries, now - started, transient)
            log.info("job.paid_output_lost", job_id=job_id, stage=stage, code=error.code)
            return OutputRetry(**window, error=final)
        delay = min(_FIRST_DELAY_S * 2 ** (tries - 1), _MAX_DELAY_S)
        if error.retry_after is not None:
            delay = max(delay, error.retry_after)
        delay = round(min(delay, deadline - now), 3)
        await self._catalog.jobs.append_event(
            job_id,
            "note",
            {"output_retry": tries, "stage": stage, "delay_s": delay, "error": error.checkpoint()},
        )
        log.info("job.paid_output_retry", job_id=job_id, stage=stage, tries=tries, code=error.code)
        return OutputRetry(**window, delay_s=delay)
