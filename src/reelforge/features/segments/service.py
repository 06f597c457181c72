"""The segments service: key frames in, video segments out, through the job engine.

:meth:`SegmentService.generate` validates the request (:mod:`.schemas`), groups the frames
(:mod:`.grouping`), builds a motion prompt per segment from the versioned template
(:mod:`.prompting`), ingests the generated frames (URLs of our own store are found in the
catalog, not fetched again; ``data:`` URIs are decoded; anything else goes through safe ingest)
and starts one engine run with a job per segment: no retries, a webhook where the provider
sends one, polling every ``segments.poll_interval_s``. It then waits until every segment is
done or past ``segments.wait_cap_s`` and answers in the spec's shape: segments that are not
done yet are in ``failed_segments`` as ``provider_pending``, and their jobs go on.

A follower (one task per run, owned by this service) watches such a run's events; when a late
webhook or poll finishes a job, the segment is settled (:mod:`.delivery`: stored under the
spec's key, its record and the run's stored response updated) and ``segments.segment_ready``
is logged. Reading a run (:meth:`SegmentService.segments`) settles whatever has finished too,
so a restarted process, or one that never followed the run, still answers correctly.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reelforge.assets import AssetService
from reelforge.budget.plans import Plan
from reelforge.budget.scopes import scopes_for
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import RunEventRecord
from reelforge.engine.service import EngineService
from reelforge.errors import (
    ConfigurationError,
    NotFound,
    ReelforgeError,
)
from reelforge.features.segments.config import SegmentSettings
from reelforge.features.segments.delivery import SegmentDelivery
from reelforge.features.segments.frames import FrameImages
from reelforge.features.segments.grouping import Grouping, group_frames
from reelforge.features.segments.preview import PreviewMaker
from reelforge.features.segments.prompting import (
    TEMPLATE_NAME,
    MotionJob,
    key_frame_ids,
    motion_prompt,
    wait_policy,
)
from reelforge.features.segments.repository import (
    NewSegment,
    SegmentFrame,
    SegmentRecord,
    SegmentRepository,
)
from reelforge.features.segments.schemas import (
    KeyFrame,
    SegmentRequest,
    SegmentResponse,
    key_frames,
    parse_request,
)
from reelforge.log import get_logger
from reelforge.media.store import MediaStore
from reelforge.prompts.library import PromptLibrary
from reelforge.providers.base import Capability
from reelforge.providers.registry import ProviderRegistry

if TYPE_CHECKING:
    from reelforge.services import Services

__all__ = ["FEATURE", "SegmentService", "assemble_run", "generate_segments"]

log = get_logger(__name__)

FEATURE = "segments"
_SETTLING_EVENTS = frozenset({"job_pending", "job_succeeded", "job_failed", "job_canceled"})
_FINAL_JOB = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True, slots=True)
class _Plan:
    frames: tuple[KeyFrame, ...]
    grouping: Grouping
    provider: str
    jobs: tuple[MotionJob, ...]


class SegmentService:
    """Motion segments for every face (REST, MCP, CLI); one per process (``services.segments``)."""

    def __init__(
        self,
        *,
        settings: SegmentSettings,
        public_base_url: str,
        catalog: Catalog,
        store: MediaStore,
        assets: AssetService,
        providers: ProviderRegistry,
        budget: BudgetService,
        prompts: PromptLibrary,
        engine: Callable[[], EngineService | None],
        max_media_bytes: int,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._segments = SegmentRepository.on(catalog)
        self._assets = assets
        self._providers = providers
        self._budget = budget
        self._prompts = prompts
        self._engine = engine
        self._frames = FrameImages(catalog, assets, public_base_url=public_base_url)
        self._delivery = SegmentDelivery(
            catalog,
            self._segments,
            store,
            assets,
            max_bytes=max_media_bytes,
            vendor_codes=providers.vendor_error_codes,
        )
        self.previews = PreviewMaker(
            catalog, self._segments, store, assets, max_bytes=max_media_bytes
        )
        self._followers: dict[str, asyncio.Task[None]] = {}
        # One settler per run in this process; a lock lives while someone holds or awaits it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- the request --------------------------------------------------------------------------

    async def generate(self, request: SegmentRequest) -> dict[str, Any]:
        """The spec's response (``dry_run``: the estimate and the plan, nothing sent)."""
        plan = await self._plan(request)
        if request.dry_run:
            return await self._estimate(request, plan)
        engine = self._running_engine()
        context = request.project_context
        frames = await self._frames.ingest(plan.frames, context.project_id)
        scopes = [
            s.key for s in scopes_for(project_id=context.project_id, episode_id=context.episode_id)
        ]
        wait = wait_policy(self._settings)
        specs = [job.spec({k: a.id for k, a in frames.items()}, wait, scopes) for job in plan.jobs]
        run_id = await engine.start_run(
            FEATURE,
            specs,
            wait=wait,
            input=_run_input(request, plan),
            project_id=context.project_id,
        )
        view = await engine.get_run(run_id)
        jobs = {job.label: job for job in view.jobs}
        await self._segments.add_run(
            run_id,
            context.project_id,
            context.episode_id,
            [
                NewSegment(
                    segment_id=job.segment.segment_id,
                    job_id=jobs[job.segment.segment_id].id,
                    provider=job.provider,
                    model=jobs[job.segment.segment_id].model,
                    scene_number=job.segment.scene_number,
                    shot_order=job.segment.shot_order,
                    planned_duration_s=job.segment.duration_s,
                    grouping={**job.segment.to_json(), "key_frames": list(job.key_frames)},
                    frames=[
                        SegmentFrame(f.frame_id, frames[f.frame_id].id, f.image_url)
                        for f in job.frames
                    ],
                )
                for job in plan.jobs
            ],
        )
        log.info("segments.run_started", run_id=run_id, segments=len(specs), provider=plan.provider)
        last_event = await self._wait(engine, run_id)
        response, _ = await self._refresh(run_id)
        if response.failed_segments and any(
            f.error == "provider_pending" for f in response.failed_segments
        ):
            self._follow(run_id, last_event)
        log.info(
            "segments.run_answered",
            run_id=run_id,
            ready=len(response.video_segments),
            failed=len(response.failed_segments),
        )
        return response.model_dump(mode="json")

    async def segments(self, run_id: str) -> SegmentResponse:
        """A run's response as it stands now (settling segments that finished meanwhile)."""
        response, _ = await self._refresh(run_id)
        return response

    async def assemble(self, run_id: str) -> dict[str, Any]:
        """The run's ready segments joined into one preview MP4, stored as an asset."""
        await self._refresh(run_id)
        return await self.previews.assemble(run_id)

    async def aclose(self) -> None:
        """Stop following runs (their jobs go on; a later read settles them)."""
        followers = list(self._followers.values())
        for task in followers:
            task.cancel()
        for task in followers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._followers.clear()

    # -- planning -----------------------------------------------------------------------------

    async def _plan(self, request: SegmentRequest) -> _Plan:
        frames = key_frames(request)
        settings = request.video_settings
        grouping = group_frames(frames, duration_per_segment=settings.duration_per_segment)
        provider = self._provider_id(settings.provider_override)
        accepts_last = self._providers.provider_class(provider).accepts_last_frame
        template = await self._prompts.load(TEMPLATE_NAME)
        by_id = {frame.frame_id: frame for frame in frames}
        jobs = []
        for segment in grouping.segments:
            members = tuple(by_id[frame_id] for frame_id in segment.frame_ids)
            jobs.append(
                MotionJob(
                    segment=segment,
                    frames=members,
                    provider=provider,
                    prompt=motion_prompt(template, segment, members, settings.motion_strength),
                    template=template,
                    motion_strength=settings.motion_strength,
                    width=self._settings.width,
                    height=self._settings.height,
                    key_frames=key_frame_ids(members, accepts_last),
                )
            )
        return _Plan(frames, grouping, provider, tuple(jobs))

    def _provider_id(self, override: str | None) -> str:
        """The provider to use: the override (any name the registry resolves), else the
        default; it must turn images into video."""
        return self._providers.resolve(override, Capability.IMAGE_TO_VIDEO).id

    async def _estimate(self, request: SegmentRequest, plan: _Plan) -> dict[str, Any]:
        context = request.project_context
        scopes = scopes_for(project_id=context.project_id, episode_id=context.episode_id)
        estimate = await self._budget.estimate_plan(
            Plan(tuple(job.planned() for job in plan.jobs), name=FEATURE), scopes
        )
        return estimate.to_json() | {
            "provider": plan.provider,
            "grouping": plan.grouping.to_json(),
            "segments": [job.to_json() for job in plan.jobs],
        }

    # -- waiting, settling, following ---------------------------------------------------------

    def _running_engine(self) -> EngineService:
        engine = self._engine()
        if engine is None:
            raise ConfigurationError(
                "The job engine is not running in this process; segments need it "
                "(reelforge serve, or open the services with an engine)."
            )
        return engine

    async def _wait(self, engine: EngineService, run_id: str) -> int:
        """Until every job is done or pending, or the cap (plus grace) passes; the last event
        id seen."""
        last = 0
        limit = self._settings.wait_cap_s + self._settings.response_grace_s
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                async with _closing(engine.follow(run_id)) as events:
                    async for event in events:
                        last = event.id
                        if event.kind == "completed":
                            break
                        if event.kind in _SETTLING_EVENTS and await _answerable(engine, run_id):
                            break
        return last

    async def _refresh(self, run_id: str) -> tuple[SegmentResponse, list[SegmentRecord]]:
        """Settle what finished; the response, and the segments that just settled."""
        lock = self._locks.get(run_id)
        if lock is None:
            lock = self._locks[run_id] = asyncio.Lock()
        async with lock:
            records = await self._segments.list_for_run(run_id)
            if not records:
                await self._catalog.runs.get(run_id)
                raise NotFound(f"Run {run_id} is not a segments run.", details={"run_id": run_id})
            settled = [record for record in records if await self._delivery.settle(record)]
            if settled:
                records = await self._segments.list_for_run(run_id)
            response = await self._delivery.response(run_id, records)
            run = await self._catalog.runs.get(run_id)
            document = response.model_dump(mode="json")
            if run.response != document:
                await self._catalog.runs.set_response(run_id, document)
        just_settled = {record.id for record in settled}
        return response, [record for record in records if record.id in just_settled]

    def _follow(self, run_id: str, after: int) -> None:
        if run_id in self._followers:
            return
        task = asyncio.create_task(self._follow_run(run_id, after), name=f"segments-{run_id}")
        self._followers[run_id] = task
        task.add_done_callback(lambda _: self._followers.pop(run_id, None))

    async def _follow_run(self, run_id: str, after: int) -> None:
        engine = self._running_engine()
        try:
            async with _closing(engine.follow(run_id, after)) as events:
                async for event in events:
                    if event.kind not in _SETTLING_EVENTS and event.kind != "completed":
                        continue
                    _, settled = await self._refresh(run_id)
                    for segment in settled:
                        log.info(
                            "segments.segment_completed_late",
                            run_id=run_id,
                            segment_id=segment.segment_id,
                            status=segment.status,
                        )
        except ReelforgeError as exc:
            log.warning("segments.follow_failed", run_id=run_id, code=exc.code)


@contextlib.asynccontextmanager
async def _closing(
    events: AsyncIterator[RunEventRecord],
) -> AsyncIterator[AsyncIterator[RunEventRecord]]:
    """Close the event stream when the loop over it stops early (it is a generator)."""
    try:
        yield events
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


async def _answerable(engine: EngineService, run_id: str) -> bool:
    view = await engine.get_run(run_id)
    return view.done or all(job.pending or job.status in _FINAL_JOB for job in view.jobs)


def _run_input(request: SegmentRequest, plan: _Plan) -> dict[str, Any]:
    """What the run records: the request as validated, and every grouping decision."""
    return {
        "request": request.model_dump(mode="json", exclude={"dry_run"}),
        "provider": plan.provider,
        "grouping": plan.grouping.to_json(),
        "segments": [job.to_json() for job in plan.jobs],
    }


async def generate_segments(
    services: Services, request: SegmentRequest | Mapping[str, Any]
) -> dict[str, Any]:
    """The segments feature in one call (``services`` needs a running engine, unless the
    request is a dry run): the spec's response, with ``run_id``."""
    if not isinstance(request, SegmentRequest):
        request = parse_request(request)
    return await services.segments.generate(request)


async def assemble_run(services: Services, run_id: str) -> dict[str, Any]:
    """A segments run's ready segments as one preview MP4 (no engine needed)."""
    return await services.segments.assemble(run_id)
