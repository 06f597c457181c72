"""The segments service: key frames in, video segments out, through the job engine.

The feature follows the one contract (:mod:`reelforge.engine.features`).
:meth:`SegmentService.plan` validates the request (:mod:`.schemas`), groups the frames
(:mod:`.grouping`), builds a motion prompt per segment from the versioned template
(:mod:`.prompting`), ingests the generated frames (URLs of our own store are found in the
catalog, not fetched again; ``data:`` URIs are decoded; anything else goes through safe ingest)
and plans one job per segment: no retries, a webhook where the provider sends one, polling
every ``segments.poll_interval_s``, ``provider_pending`` past ``segments.wait_cap_s``.

:meth:`SegmentService.finish` is the run's durable final step, run by the engine once the
run's last job has ended, wherever and whenever that is (a late webhook an hour later, in a
worker, after a restart), whether or not anyone waits: it writes the segment records if the
run has none yet, settles every segment (:mod:`.delivery`: stored under the spec's key, its
records updated), measures the posters of segments whose characters have reference faces
(:mod:`.identity`) and returns the spec's response, which the engine stores on the run.

:meth:`SegmentService.generate` is the spec's request: it starts the run and answers once the
run is done, or once every unfinished segment is past the wait cap (``provider_pending``:
their jobs go on, and the finish step completes them). Until the run ends, a read
(:meth:`SegmentService.segments`) shows how it stands: segments whose jobs have ended are
delivered then (the same idempotent settling the finish runs); afterwards a read returns the
response the finish stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from reelforge.assets import AssetService
from reelforge.budget.plans import Plan
from reelforge.budget.scopes import scopes_for
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import JobRecord, RunEventRecord, RunRecord
from reelforge.continuity import IdentityMeter
from reelforge.engine.features import FinishedRun, RunPlan
from reelforge.engine.service import EngineService, RunView
from reelforge.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from reelforge.features.segments.casting import segment_cast
from reelforge.features.segments.config import SegmentSettings
from reelforge.features.segments.delivery import SegmentDelivery
from reelforge.features.segments.frames import FrameImages
from reelforge.features.segments.grouping import group_frames
from reelforge.features.segments.identity import PosterIdentity
from reelforge.features.segments.planning import SegmentsPlan, new_segments, planned, run_input
from reelforge.features.segments.preview import PreviewMaker
from reelforge.features.segments.prompting import (
    TEMPLATE_NAME,
    MotionJob,
    key_frame_ids,
    motion_prompt,
    wait_policy,
)
from reelforge.features.segments.repository import SegmentRepository
from reelforge.features.segments.schemas import (
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
from reelforge.references import CharacterReferences, ReferenceResolver
from reelforge.tracing import bind_trace

__all__ = ["FEATURE", "SegmentService", "assemble_run", "generate_segments"]

log = get_logger(__name__)

FEATURE = "segments"
_SETTLING_EVENTS = frozenset({"job_pending", "job_succeeded", "job_failed", "job_canceled"})
_FINAL_JOB = frozenset({"succeeded", "failed", "canceled"})


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
        engine: EngineService,
        max_media_bytes: int,
        characters: CharacterReferences,
        face_models_dir: Path | None = None,
    ) -> None:
        """``characters``: where workspace characters' reference images are read from;
        ``face_models_dir``: the dlib model files' folder (None: the installed package's)."""
        self._settings = settings
        self._catalog = catalog
        self._segments = SegmentRepository.on(catalog)
        self._providers = providers
        self._budget = budget
        self._prompts = prompts
        self._engine = engine
        self._frames = FrameImages(catalog, assets, public_base_url=public_base_url)
        self._references = ReferenceResolver(characters, assets)
        self._delivery = SegmentDelivery(
            catalog,
            self._segments,
            store,
            assets,
            max_bytes=max_media_bytes,
            vendor_codes=providers.vendor_error_codes,
        )
        self._identity = PosterIdentity(
            catalog,
            self._segments,
            IdentityMeter(
                store,
                assets,
                threshold=settings.identity_threshold,
                face_models_dir=face_models_dir,
                detect_max_side=settings.face_detect_max_side,
                feature=FEATURE,
            ),
        )
        self.previews = PreviewMaker(
            catalog, self._segments, store, assets, max_bytes=max_media_bytes
        )
        # One settler per run in this process; a lock lives while someone holds or awaits it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def name(self) -> str:
        return FEATURE

    def parse(self, data: Mapping[str, Any]) -> SegmentRequest:
        return parse_request(data)

    # -- the contract: plan and finish ---------------------------------------------------------

    async def plan(self, request: SegmentRequest, *, project_id: str | None = None) -> RunPlan:
        """The run ``request`` makes, its key frames ingested first (a refused frame stops it
        before any job). The request's ``project_context`` names the project whose budget pays;
        ``project_id`` is not used."""
        if request.dry_run:
            raise InvalidInput(
                "A dry run starts no run: send it to POST /v1/segments (or reelforge segments "
                "--dry-run) for its plan and cost."
            )
        return await self._run_plan(request, await self._plan(request))

    async def finish(self, run: FinishedRun) -> dict[str, Any] | None:
        """The run's final step: every segment settled, and the spec's response."""
        if not planned(run.run.input):
            # A bare engine run under this feature's name: there is nothing of ours to finish.
            log.warning("segments.unplanned_run", run_id=run.id)
            return None
        await self._write_records(run.run, run.jobs)
        response = await self._identity.scored(run.run.input, await self._settle(run.id))
        log.info(
            "segments.run_completed",
            run_id=run.id,
            status=run.status,
            ready=len(response.video_segments),
            failed=len(response.failed_segments),
        )
        return response.model_dump(mode="json")

    # -- the request ---------------------------------------------------------------------------

    async def generate(self, request: SegmentRequest) -> dict[str, Any]:
        """The spec's response (``dry_run``: the estimate and the plan, nothing sent). Its log
        lines carry the orchestrator's trace id when the request names one."""
        with bind_trace(request.project_context.trace_id):
            return await self._generate(request)

    async def _generate(self, request: SegmentRequest) -> dict[str, Any]:
        if request.dry_run:
            return await self._estimate(request, await self._plan(request))
        run_id = await self.start(request)
        # The records at once: the spec's videoGenJobs track the segments from their submit.
        await self._write_records(await self._catalog.runs.get(run_id))
        await self._wait(run_id)
        response = await self.segments(run_id)
        log.info(
            "segments.run_answered",
            run_id=run_id,
            ready=len(response.video_segments),
            failed=len(response.failed_segments),
        )
        return response.model_dump(mode="json")

    async def start(self, request: SegmentRequest) -> str:
        """Start the run; its id comes back at once (the engine finishes it)."""
        plan = await self._plan(request)
        if not self._engine.started:
            raise ConfigurationError(
                "The job engine is not running in this process; segments need it "
                "(reelforge serve, or open the services with an engine)."
            )
        run_id = await self._engine.start(FEATURE, await self._run_plan(request, plan))
        log.info(
            "segments.run_started", run_id=run_id, segments=len(plan.jobs), provider=plan.provider
        )
        return run_id

    async def segments(self, run_id: str) -> SegmentResponse:
        """A run's response: the one its finish stored once it is done, else how it stands."""
        run = await self._catalog.runs.get(run_id)
        if run.feature != FEATURE or not planned(run.input):
            raise NotFound(f"Run {run_id} is not a segments run.", details={"run_id": run_id})
        view = await self._engine.get_run(run_id)
        if view.done and _unfinished(view.response):
            # Ended under a release that settled segments only as they were read.
            view = await self._engine.finish_again(run_id)
        if view.done and view.response is not None:
            return SegmentResponse.model_validate(view.response)
        await self._write_records(run)
        return await self._settle(run_id)

    async def assemble(self, run_id: str) -> dict[str, Any]:
        """The run's ready segments joined into one preview MP4, stored as an asset."""
        await self.segments(run_id)
        return await self.previews.assemble(run_id)

    # -- planning -----------------------------------------------------------------------------

    async def _plan(self, request: SegmentRequest) -> SegmentsPlan:
        frames = key_frames(request)
        settings = request.video_settings
        grouping = group_frames(frames, duration_per_segment=settings.duration_per_segment)
        provider = self._provider_id(settings.provider_override)
        adapter = self._providers.get(provider)
        accepts_last, max_keys = adapter.accepts_last_frame, adapter.max_key_frames
        template = await self._prompts.load(TEMPLATE_NAME)
        by_id = {frame.frame_id: frame for frame in frames}
        profiles = request.character_profiles
        by_profile = await self._references.of_profiles(
            profiles,
            ingest=not request.dry_run,
            project_id=request.project_context.project_id,
        )
        limit = adapter.reference_limit(Capability.IMAGE_TO_VIDEO)
        reference_model = adapter.model_for_references(None, Capability.IMAGE_TO_VIDEO)
        jobs = []
        for segment in grouping.segments:
            members = tuple(by_id[frame_id] for frame_id in segment.frame_ids)
            cast = segment_cast(members, profiles, by_profile, limit)
            jobs.append(
                MotionJob(
                    segment=segment,
                    frames=members,
                    provider=provider,
                    prompt=motion_prompt(
                        template, segment, members, settings.motion_strength, cast.prompt_text
                    ),
                    template=template,
                    motion_strength=settings.motion_strength,
                    width=self._settings.width,
                    height=self._settings.height,
                    key_frames=key_frame_ids(members, accepts_last, max_keys),
                    cast=cast if profiles else None,
                    reference_model=reference_model,
                )
            )
        return SegmentsPlan(frames, grouping, provider, tuple(jobs))

    async def _run_plan(self, request: SegmentRequest, plan: SegmentsPlan) -> RunPlan:
        context = request.project_context
        frames = await self._frames.ingest(plan.frames, context.project_id)
        frame_assets = {frame_id: asset.id for frame_id, asset in frames.items()}
        scopes = [
            s.key for s in scopes_for(project_id=context.project_id, episode_id=context.episode_id)
        ]
        wait = wait_policy(self._settings)
        return RunPlan(
            jobs=[job.spec(frame_assets, wait, scopes) for job in plan.jobs],
            input=run_input(request, plan, frame_assets),
            wait=wait,
            project_id=context.project_id,
            trace_id=context.trace_id,
        )

    def _provider_id(self, override: str | None) -> str:
        """The provider to use: the override (any name the registry resolves), else the
        default; it must turn images into video."""
        return self._providers.resolve(override, Capability.IMAGE_TO_VIDEO).id

    async def _estimate(self, request: SegmentRequest, plan: SegmentsPlan) -> dict[str, Any]:
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

    # -- waiting and settling -------------------------------------------------------------------

    async def _wait(self, run_id: str) -> None:
        """Until the run is done, or every unfinished job is past its wait cap, or the cap
        (plus grace) passes."""
        limit = self._settings.wait_cap_s + self._settings.response_grace_s
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                async with _closing(self._engine.follow(run_id)) as events:
                    async for event in events:
                        if event.kind == "completed":
                            return
                        if event.kind in _SETTLING_EVENTS and _answerable(
                            await self._engine.get_run(run_id)
                        ):
                            return

    async def _write_records(self, run: RunRecord, jobs: Sequence[JobRecord] | None = None) -> None:
        """The run's segment records, written from its input and jobs unless they are already
        (by the request that started it, or by another process)."""
        if await self._segments.list_for_run(run.id):
            return
        if jobs is None:
            jobs = await self._catalog.jobs.list_for_run(run.id)
        by_label = {job.request.get("label"): job for job in jobs}
        project_id, episode_id, segments = new_segments(run.input, by_label)
        with contextlib.suppress(Conflict):  # another process wrote them meanwhile
            await self._segments.add_run(run.id, project_id, episode_id, segments)

    async def _settle(self, run_id: str) -> SegmentResponse:
        """Settle the segments whose jobs have ended (marking those past the cap pending); the
        response as the records then stand."""
        lock = self._locks.get(run_id)
        if lock is None:
            lock = self._locks[run_id] = asyncio.Lock()
        async with lock:
            records = await self._segments.list_for_run(run_id)
            late = {record.id for record in records if record.job_status == "pending"}
            settled = [record for record in records if await self._delivery.settle(record)]
            if settled:
                records = await self._segments.list_for_run(run_id)
            for record in settled:
                if record.id in late:
                    log.info(
                        "segments.segment_completed_late",
                        run_id=run_id,
                        segment_id=record.segment_id,
                    )
            return await self._delivery.response(run_id, records)


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


def _answerable(view: RunView) -> bool:
    """Done, or every job still going is past its wait cap (when every job has ended, the
    answer waits for the run's finish)."""
    if view.done:
        return True
    going = [job for job in view.jobs if job.status not in _FINAL_JOB]
    return bool(going) and all(job.pending for job in going)


def _unfinished(response: Mapping[str, Any] | None) -> bool:
    """A done run's stored response that its finish did not write."""
    if response is None:
        return True
    return any(f.get("error") == "provider_pending" for f in response.get("failed_segments", ()))


async def generate_segments(
    service: SegmentService, request: SegmentRequest | Mapping[str, Any]
) -> dict[str, Any]:
    """The segments feature in one call (the service needs a running engine, unless the
    request is a dry run): the spec's response, with ``run_id``."""
    if not isinstance(request, SegmentRequest):
        request = parse_request(request)
    return await service.generate(request)


async def assemble_run(service: SegmentService, run_id: str) -> dict[str, Any]:
    """A segments run's ready segments as one preview MP4 (no engine needed)."""
    return await service.assemble(run_id)
