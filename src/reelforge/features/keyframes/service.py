"""Storyboard frames become key frames: planned here, rendered by the engine, finished here.

The feature follows the one contract (:mod:`reelforge.engine.features`).
:meth:`KeyframesService.plan` turns a request into one text-to-image
:class:`~reelforge.engine.specs.JobSpec` per frame (prompts from the ``keyframes`` template,
seed = base seed + frame index, size within the cap, up to 2 retries with exponential backoff
on retryable errors, a per-frame timeout); the engine renders them concurrently within the
provider's queue limits; :meth:`KeyframesService.finish`, the run's durable final step, builds
the spec's response (frames in request order, ``image_url`` always the media store's public
URL; a frame the provider returned over the resolution cap is answered with a copy scaled down
to fit, :mod:`reelforge.features.keyframes.fitting`) and counts the frames in the metrics, when
the run ends, whether or not anyone reads it; it also measures the frames that show a
character with a reference photo against it (:mod:`reelforge.features.keyframes.continuity`).
:meth:`~KeyframesService.result` reads the stored response.

Provider and model names, sizes and seeds: :mod:`reelforge.features.keyframes.planning`.
Characters' reference images (a workspace ``character_id``, a ``reference_image_url``), and which
go with each frame: :mod:`reelforge.references`; they are ingested when the
run is planned (a dry run fetches nothing).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reelforge.assets import AssetService
from reelforge.budget.scopes import scopes_for
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord, JobRecord
from reelforge.engine.features import FinishedRun, RunPlan
from reelforge.engine.service import EngineService
from reelforge.engine.specs import RetryPolicy, WaitPolicy
from reelforge.errors import NotFound, Timeout
from reelforge.features.keyframes.config import KeyframesSettings
from reelforge.features.keyframes.continuity import (
    ContinuityCheck,
    FrameCast,
    RunContinuity,
    cast_references,
)
from reelforge.features.keyframes.fitting import FrameFitter
from reelforge.features.keyframes.planning import (
    RenderPlan,
    check_frame_count,
    frame_size,
    model_id,
    planned_frames,
    provider_id,
)
from reelforge.features.keyframes.prompting import TEMPLATE_NAME, frame_prompts
from reelforge.features.keyframes.schemas import (
    FailedFrame,
    GeneratedFrame,
    KeyframesPending,
    KeyframesRequest,
    KeyframesResponse,
    ProviderMetadata,
    parse_request,
)
from reelforge.log import get_logger
from reelforge.media.store import MediaStore
from reelforge.metrics import ImageGenerationMetrics
from reelforge.prompts.library import PromptLibrary
from reelforge.providers.base import Capability
from reelforge.providers.registry import ProviderRegistry
from reelforge.references import (
    CharacterReferences,
    ReferenceResolver,
    frame_references,
)

__all__ = ["FEATURE", "KeyframesService", "render_storyboard"]

log = get_logger(__name__)

FEATURE = "keyframes"


class KeyframesService:
    """Plans, starts and answers storyboard renders (see the module doc)."""

    def __init__(
        self,
        *,
        settings: KeyframesSettings,
        providers: ProviderRegistry,
        budget: BudgetService,
        prompts: PromptLibrary,
        catalog: Catalog,
        store: MediaStore,
        assets: AssetService,
        metrics: ImageGenerationMetrics,
        engine: EngineService,
        characters: CharacterReferences,
        service_url: str,
        face_models_dir: Path | None = None,
    ) -> None:
        """``characters``: where workspace characters' reference images are read from;
        ``service_url``: the public URL the links of a pending answer start with;
        ``face_models_dir``: the dlib model files' folder (None: the installed package's)."""
        self._settings = settings
        self._service_url = service_url
        self._providers = providers
        self._budget = budget
        self._prompts = prompts
        self._catalog = catalog
        self._store = store
        self._fitter = FrameFitter(settings, catalog, store, assets)
        self._metrics = metrics
        self._engine = engine
        self._references = ReferenceResolver(characters, assets)
        self._continuity = ContinuityCheck(
            store,
            assets,
            threshold=settings.identity_threshold,
            face_models_dir=face_models_dir,
            detect_max_side=settings.face_detect_max_side,
        )

    @property
    def name(self) -> str:
        return FEATURE

    def parse(self, data: Mapping[str, Any]) -> KeyframesRequest:
        return parse_request(data)

    # -- planning ----------------------------------------------------------------------------

    async def plan(self, request: KeyframesRequest, *, project_id: str | None = None) -> RunPlan:
        """The run ``request`` makes: one job per frame, waiting per the settings."""
        plan = await self.render_plan(request, project_id=project_id, ingest=True)
        limits = self._settings
        return RunPlan(
            jobs=[frame.spec for frame in plan.frames],
            input={"request": request.model_dump(mode="json"), "plan": plan.to_json()},
            wait=WaitPolicy(
                poll_interval_s=limits.poll_interval_s,
                cap_s=None,
                give_up_after_s=limits.timeout_s,
            ),
            priority="interactive",
            project_id=project_id,
        )

    async def render_plan(
        self, request: KeyframesRequest, *, project_id: str | None = None, ingest: bool = False
    ) -> RenderPlan:
        """The frames ``request`` makes; refuses what cannot be rendered, before any call.
        ``ingest``: fetch the profiles' reference URLs into the store (a dry run does not)."""
        limits = self._settings
        check_frame_count(len(request.storyboard_frames), limits)
        wanted = request.settings
        provider = provider_id(self._providers, wanted.provider)
        model = model_id(self._providers, provider, wanted.model)
        width, height, aspect_ratio = frame_size(wanted, limits)
        base_seed = wanted.seed if wanted.seed is not None else secrets.randbelow(2**31)
        template = await self._prompts.load(TEMPLATE_NAME)
        prompts = frame_prompts(
            request.storyboard_frames,
            request.character_profiles,
            template,
            aspect_ratio=aspect_ratio,
        )
        by_profile = await self._references.of_profiles(
            request.character_profiles, ingest=ingest, project_id=project_id
        )
        adapter = self._providers.get(provider)
        limit = adapter.reference_limit(Capability.TEXT_TO_IMAGE)
        references = [frame_references(p.characters, by_profile, limit) for p in prompts]
        frames = planned_frames(
            request.storyboard_frames,
            prompts,
            template,
            provider=provider,
            model=model,
            size=(width, height),
            base_seed=base_seed,
            wanted=wanted,
            retry=RetryPolicy(max_retries=limits.max_retries, backoff_s=limits.retry_backoff_s),
            budget_scopes=tuple(scope.key for scope in scopes_for(project_id=project_id)),
            references=references,
            by_profile=by_profile,
            reference_model=adapter.model_for_references(model, Capability.TEXT_TO_IMAGE),
        )
        return RenderPlan(
            provider=provider,
            model=model,
            width=width,
            height=height,
            aspect_ratio=aspect_ratio,
            base_seed=base_seed,
            template_name=template.name,
            template_version=template.version,
            frames=frames,
        )

    async def dry_run(
        self, request: KeyframesRequest, *, project_id: str | None = None
    ) -> dict[str, Any]:
        """The plan and its cost estimate (``"dry_run": true``); no provider is called."""
        plan = await self.render_plan(request, project_id=project_id)
        estimate = await self._budget.estimate_plan(
            plan.budget_plan(), scopes_for(project_id=project_id)
        )
        return {**estimate.to_json(), "render_plan": plan.to_json()}

    # -- running -----------------------------------------------------------------------------

    async def start(self, request: KeyframesRequest, *, project_id: str | None = None) -> str:
        """Start the render; returns the run id at once."""
        plan = await self.plan(request, project_id=project_id)
        run_id = await self._engine.start(FEATURE, plan)
        log.info("keyframes.started", run_id=run_id, frames=len(plan.jobs))
        return run_id

    async def render(
        self, request: KeyframesRequest, *, wait_s: float, project_id: str | None = None
    ) -> KeyframesResponse | KeyframesPending | dict[str, Any]:
        """What every face answers: the dry run, or the response, or where to find it."""
        if request.dry_run:
            return await self.dry_run(request, project_id=project_id)
        run_id = await self.start(request, project_id=project_id)
        return await self.result(run_id, wait_s=wait_s)

    async def result(self, run_id: str, *, wait_s: float) -> KeyframesResponse | KeyframesPending:
        """The run's response once it is done (waiting up to ``wait_s``), else its progress."""
        view = await self._engine.wait_for_run(run_id, wait_s)
        if view.feature != FEATURE:
            raise NotFound(f"No keyframes run {run_id!r}.", details={"run_id": run_id})
        if view.done and view.response is None:
            view = await self._engine.finish_again(run_id)
        if not view.done or view.response is None:
            finished = sum(view.counts.get(s, 0) for s in ("succeeded", "failed", "canceled"))
            return KeyframesPending.of(
                self._service_url, run_id, view.status, finished, len(view.jobs)
            )
        return KeyframesResponse.model_validate(view.response)

    # -- finishing ---------------------------------------------------------------------------

    async def finish(self, run: FinishedRun) -> dict[str, Any]:
        """The run's final step: the spec's response, and the frames counted in the metrics."""
        jobs = run.jobs_by_label()
        generated: list[GeneratedFrame] = []
        failed: list[FailedFrame] = []
        references = cast_references(run.run.input.get("plan") or {})
        measured: list[FrameCast] = []
        for frame in run.run.input["request"]["storyboard_frames"]:
            job = jobs[frame["frame_id"]]
            retry_count = run.retries.get(job.id, 0)
            if job.status == "succeeded" and job.asset_ids:
                made, asset = await self._generated(job, retry_count)
                generated.append(made)
                if made.frame_id in references:
                    measured.append(FrameCast(made.frame_id, asset, references[made.frame_id]))
            else:
                error = _public_code(job, self._providers)
                failed.append(FailedFrame(frame_id=frame["frame_id"], error=error))
        continuity = await self._continuity.measure(measured)
        response = KeyframesResponse(
            generated_frames=[_scored(frame, continuity) for frame in generated],
            failed_frames=failed,
            run_id=run.id,
            warnings=continuity.warnings,
            consistency=continuity.report if references else None,
        )
        # Counted after the response is built, so a retried finish does not count twice
        # what a failed build already counted.
        for job in jobs.values():
            self._count(job, run.retries.get(job.id, 0))
        log.info("keyframes.completed", run_id=run.id, generated=len(generated), failed=len(failed))
        return response.model_dump(mode="json")

    def _count(self, job: JobRecord, retry_count: int) -> None:
        if job.status == "succeeded" and job.asset_ids:
            latency = (job.finished_at or job.updated_at) - job.created_at
            self._metrics.observe_frame(
                job.provider,
                "succeeded",
                latency_ms=latency.total_seconds() * 1000,
                retries=retry_count,
            )
        else:
            self._metrics.observe_frame(
                job.provider,
                "canceled" if job.status == "canceled" else "failed",
                latency_ms=None,
                retries=retry_count,
            )

    async def _generated(
        self, job: JobRecord, retry_count: int
    ) -> tuple[GeneratedFrame, AssetRecord]:
        """The frame as the response shows it, and the asset its ``image_url`` serves."""
        asset, downscaled = await self._fitter.fit(
            job, await self._catalog.assets.get(job.asset_ids[0])
        )
        result = job.provider_metadata or {}
        asked = job.request
        negative = str(asked.get("negative_prompt") or "")
        return GeneratedFrame(
            frame_id=str(asked["label"]),
            image_url=self._store.public_url(asset.key),
            negative_prompts=[t for t in negative.split(", ") if t],
            provider_metadata=ProviderMetadata(
                seed=_first(result.get("seed"), asked.get("seed")),
                model=str(result.get("model") or job.model),
                steps=_first(result.get("steps"), asked.get("steps")),
                inference_time_ms=result.get("inference_time_ms"),
                provider=job.provider,
                retry_count=retry_count,
            ),
            downscaled=downscaled,
        ), asset


async def render_storyboard(
    service: KeyframesService,
    request: KeyframesRequest | Mapping[str, Any],
    *,
    wait_s: float = 600.0,
) -> KeyframesResponse:
    """Render ``request`` (a request or its JSON) and wait for the response: for the CLI's
    demo and scripts. Raises :class:`~reelforge.errors.Timeout` (``details.run_id``) if the
    run is not done within ``wait_s``; the run goes on."""
    if not isinstance(request, KeyframesRequest):
        request = parse_request(request)
    run_id = await service.start(request)
    outcome = await service.result(run_id, wait_s=wait_s)
    if isinstance(outcome, KeyframesPending):
        raise Timeout(
            f"The key frames were not done within {wait_s:g} s; the run goes on.",
            details={"run_id": run_id, "page_url": outcome.page_url},
        )
    return outcome


def _scored(frame: GeneratedFrame, continuity: RunContinuity) -> GeneratedFrame:
    checks = continuity.checks.get(frame.frame_id)
    if not checks:
        return frame
    metadata = frame.provider_metadata.model_copy(update={"identity": checks})
    return frame.model_copy(
        update={
            "provider_metadata": metadata,
            "quality_score": continuity.quality_score(frame.frame_id),
        }
    )


def _first(*values: Any) -> int | None:
    return next((int(v) for v in values if v is not None), None)


def _public_code(job: JobRecord, providers: ProviderRegistry) -> str:
    """The spec's generic vocabulary: a provider's own code (``<VENDOR>_ERROR``) is
    ``provider_error``."""
    if job.status == "canceled":
        return "canceled"
    return providers.generic_code(job.error_code or "provider_error")
