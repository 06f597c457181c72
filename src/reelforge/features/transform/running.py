"""A transform's record and runs: one run per provider tried, until one makes something.

:meth:`TransformRuns.record` prepares the first provider's input, chooses the first run's id
and records the transform (``running``) with that id and the inputs the run will own, in that
order: what lies between the record and the run's start is then only the run's own catalog
writes (a process that dies there leaves a transform a restart ends: :mod:`.stranded`).
:meth:`TransformRuns.run` then starts the first provider's run under that id, waits for it up
to the request's timeout (cancelling it when past, so its finish records the timeout) and goes
on to the next provider of the configured fallback order while a video run made nothing. It
answers what the last run's finish step stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from reelforge.catalog.models import new_id
from reelforge.engine.features import RunPlan
from reelforge.engine.service import EngineService, RunView
from reelforge.errors import ReelforgeError
from reelforge.features.transform import results
from reelforge.features.transform.inputs import TransformInput
from reelforge.features.transform.planning import (
    EarlierRun,
    ProviderChoice,
    TransformAttempt,
    TransformPlan,
)
from reelforge.features.transform.repository import NewTransform, TransformRepository
from reelforge.features.transform.schemas import (
    FEATURE,
    FinishedTransform,
    TransformRequest,
    provider_label,
)
from reelforge.log import get_logger
from reelforge.providers.registry import ProviderRegistry

__all__ = ["Progress", "RecordedTransform", "TransformRuns"]

log = get_logger(__name__)

Progress = Callable[[dict[str, Any]], Awaitable[None]]

_JOB_ENDS = frozenset({"job_succeeded", "job_failed", "job_canceled"})


@dataclass(frozen=True, slots=True)
class RecordedTransform:
    """A transform as its request recorded it: its id, the id chosen for its first run, that
    run's prepared input, and when the request began (monotonic and epoch seconds)."""

    transform_id: str
    first_run_id: str
    first_plan: TransformPlan
    started: float
    started_at: float


class TransformRuns:
    """Starts, follows and falls back between a transform's runs; see the module docstring."""

    def __init__(
        self,
        *,
        engine: EngineService,
        transforms: TransformRepository,
        providers: ProviderRegistry,
        plan: Callable[[TransformAttempt], Awaitable[RunPlan]],
        identity_threshold: float,
    ) -> None:
        """``plan``: the feature's :meth:`~.service.TransformService.plan` of one attempt."""
        self._engine = engine
        self._transforms = transforms
        self._providers = providers
        self._plan = plan
        self._identity_threshold = identity_threshold

    async def record(
        self,
        request: TransformRequest,
        inputs: TransformInput,
        choice: ProviderChoice,
        *,
        source: str,
        keep: bool,
        clock: tuple[float, float],
    ) -> RecordedTransform:
        """The transform recorded, about to start its first run (see the module docstring);
        ``keep``: the upload is kept; ``clock``: when the request began."""
        first_plan = await inputs.plan_for(choice.providers[0], request)
        first_run_id = new_id()
        upload = inputs.upload
        record = await self._transforms.create(
            NewTransform(
                source=source,
                media_kind=upload.kind,
                media_content_type=upload.content_type,
                media_size_bytes=upload.size_bytes,
                media_width=upload.width,
                media_height=upload.height,
                media_duration_s=upload.duration_s,
                input_asset_id=upload.id,
                input_kept=keep,
                description_chars=len(request.scene_description),
                description=request.scene_description if keep else None,
                style_preset=request.style_preset,
                aspect_ratio=request.aspect_ratio,
                output_count=request.output_count,
                identity_threshold=self._identity_threshold,
                project_id=request.project_id,
                run_id=first_run_id,
                inputs=inputs.owned(keep_upload=keep),
            )
        )
        return RecordedTransform(record.id, first_run_id, first_plan, *clock)

    async def run(
        self,
        request: TransformRequest,
        inputs: TransformInput,
        choice: ProviderChoice,
        recorded: RecordedTransform,
        timeout_s: float,
        notify: Progress,
    ) -> FinishedTransform:
        """A run per provider until one makes something; the last run's stored response."""
        engine, transform_id = self._engine, recorded.transform_id
        attempts: list[results.Attempt] = []
        try:
            for provider in choice.providers:
                first = not attempts
                if not first:
                    await notify({"event": "fallback", "provider": provider_label(provider)})
                last = provider == choice.providers[-1]
                plan = recorded.first_plan if first else await inputs.plan_for(provider, request)
                attempt = TransformAttempt(
                    transform_id,
                    request,
                    inputs.task,
                    plan,
                    inputs.upload,
                    started_at=recorded.started_at,
                    timeout_s=timeout_s,
                    earlier=tuple(
                        EarlierRun(provider=a.provider, run_id=a.view.id) for a in attempts
                    ),
                    warnings=choice.warnings,
                    release=inputs.owned(keep_upload=request.keep_upload) if last else (),
                )
                run_plan = await self._plan(attempt)
                if first:
                    run_plan = replace(run_plan, run_id=recorded.first_run_id)
                run_id = await engine.start(FEATURE, run_plan)
                if last:
                    inputs.hand_over()
                await notify({"event": "provider", "provider": provider_label(provider)})
                deadline = recorded.started + timeout_s
                view, gave_up = await self._wait(
                    transform_id, run_id, deadline, notify, request.output_count
                )
                attempts.append(results.Attempt(provider, view))
                made_nothing = view.response is not None and not view.response.get("success")
                if gave_up or not made_nothing:
                    break
            response = attempts[-1].view.response
            if response is None:
                raise ReelforgeError(
                    "The transform ended without a result.",
                    details={"run_id": attempts[-1].view.id},
                )
        except ReelforgeError as exc:
            # The request's own failure (starting a run, or one that could not be finished):
            # no finish step recorded it.
            outcome = results.failed_outcome(
                exc, attempts, recorded.started_at, request.keep_upload
            )
            await self._transforms.finish(transform_id, outcome)
            log.info("transform.failed", transform_id=transform_id, code=exc.code)
            raise
        return results.read_back(response, self._providers)

    async def _wait(
        self, transform_id: str, run_id: str, deadline: float, notify: Progress, jobs: int
    ) -> tuple[RunView, bool]:
        """The run once done, following its progress; past ``deadline`` it is cancelled (its
        finish then records the timeout). Also says whether the request gave up."""
        engine = self._engine
        remaining = deadline - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await _follow(engine, run_id, notify, jobs)
        view = await engine.get_run(run_id)
        if view.done:
            return view, False
        await self._transforms.note_timeout(transform_id, run_id)
        return await engine.cancel_run(run_id), True


async def _follow(engine: EngineService, run_id: str, notify: Progress, jobs: int) -> None:
    """The run's events as progress lines; ``scoring`` once every job ended, some made."""
    ended = made = 0
    async for event in engine.follow(run_id):
        await notify(results.progress_event(event))
        if event.kind in _JOB_ENDS:
            ended += 1
            made += event.kind == "job_succeeded"
            if ended == jobs and made:
                await notify({"event": "scoring"})
