"""The transform service: checked media in, transformed media out, through the job engine.

The feature follows the one contract (:mod:`reelforge.engine.features`). A face checks the
request's fields (:mod:`.validation`), brings the media in with :meth:`TransformService.receive`
or :meth:`~TransformService.receive_text` (:mod:`.intake`), then calls
:meth:`TransformService.transform`, which:

1. runs the face check on a photo: no face, several faces or a face too small is refused
   before any provider is called;
2. chooses the providers (:mod:`.planning`) and prepares their input (:mod:`.inputs`): the
   photo reframed around the face, or a video's first frame;
3. for a dry run, prices the jobs and stops;
4. runs every variation as one job of one engine run per provider tried
   (:meth:`~TransformService.plan`: concurrently, no retries), with the provider timeout as the
   jobs' give-up time; a video whose provider made nothing goes to the next one (the configured
   fallback order);
5. waits up to the request timeout, cancelling the run when it is past, and answers what the
   run's finish step stored (the spec's envelope, or its error raised again).

:meth:`TransformService.finish` is the run's durable final step, run by the engine when the
run ends whether or not the request still waits: it scores each output image's face against
the input (:mod:`.identity`), records the transform and its outputs, and builds the response,
with a warning per failed variation (:mod:`.results`). A run the request gave up on (and
cancelled) is recorded as the spec's ``TIMEOUT``.

Uploads and the inputs made from them are deleted when the transform ends, unless the request
keeps the upload; a request refused before its transform is recorded keeps nothing. Logs
carry sizes, types, lengths and codes, never the description or media.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from reelforge.assets import AssetService
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord
from reelforge.engine.features import FinishedRun, RunPlan
from reelforge.engine.service import EngineService
from reelforge.engine.specs import JobSpec
from reelforge.errors import ConfigurationError, InvalidInput, ReelforgeError
from reelforge.features.transform import results
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.identity import IdentityJudge
from reelforge.features.transform.inputs import TransformInput, delete_inputs
from reelforge.features.transform.intake import Intake, capped_assets, character_copy
from reelforge.features.transform.planning import (
    AttemptInput,
    TransformAttempt,
    TransformPlan,
    choose_providers,
    configured_providers,
    job_specs,
    plan_view,
    planned_jobs,
)
from reelforge.features.transform.repository import TransformRepository
from reelforge.features.transform.running import Progress, TransformRuns
from reelforge.features.transform.schemas import (
    FEATURE,
    DryRunResult,
    FinishedTransform,
    Task,
    TransformRequest,
)
from reelforge.features.transform.scoring import OutputScoring
from reelforge.features.transform.stranded import StrandedTransforms
from reelforge.features.transform.upload import MediaUrl, StagedMedia
from reelforge.imaging.faces import (
    RECOGNITION_MODEL_FILE,
    SHAPE_PREDICTOR_FILE,
    FaceAnalyzer,
    FaceModels,
)
from reelforge.log import get_logger
from reelforge.media.store import MediaStore
from reelforge.providers.registry import ProviderRegistry
from reelforge.references import CharacterReferences, ReferenceResolver
from reelforge.settings import IngestSettings

__all__ = ["Progress", "TransformService"]

log = get_logger(__name__)


class TransformService:
    """Transforms for every face (REST, MCP, CLI, the page), built once by the composition
    root. It holds one face analyzer (its dlib models load once, on first use)."""

    def __init__(
        self,
        *,
        settings: TransformSettings,
        catalog: Catalog,
        store: MediaStore,
        assets: AssetService,
        providers: ProviderRegistry,
        budget: BudgetService,
        engine: EngineService,
        ingest: IngestSettings,
        ingest_http: httpx.AsyncClient,
        temp_dir: Path,
        face_models_dir: Path | None,
        characters: CharacterReferences,
    ) -> None:
        """``characters``: where a workspace character's reference image is read from, for a
        transform of that character (:meth:`receive_character`)."""
        self.settings = settings
        self.temp_dir = temp_dir
        self._store = store
        self._assets = assets
        self._providers = providers
        self._budget = budget
        self._engine = engine
        self._transforms = TransformRepository.on(catalog)
        self._intake = Intake(
            settings,
            assets,
            capped_assets(settings, catalog, store, ingest, ingest_http, temp_dir),
            temp_dir,
        )
        self._scoring = OutputScoring(assets, store, settings)
        self._stranded = StrandedTransforms(self._transforms, engine, assets)
        self._runs = TransformRuns(
            engine=engine,
            transforms=self._transforms,
            providers=providers,
            plan=self.plan,
            identity_threshold=settings.identity_threshold,
        )
        self._face_models_dir = face_models_dir
        self._references = ReferenceResolver(characters, assets)
        self._analyzer: FaceAnalyzer | None = None

    @property
    def name(self) -> str:
        return FEATURE

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer(
                _face_models(self._face_models_dir),
                detect_max_side=self.settings.face_detect_max_side,
            )
        return self._analyzer

    def check_provider(self, provider: str) -> str:
        """The id of a provider name or alias; refuses a name nobody registered."""
        return self._providers.resolve(provider).id

    # -- the faces' entry points -------------------------------------------------------------

    async def receive(self, media: StagedMedia | MediaUrl) -> AssetRecord:
        """Store checked media (a staged upload or a URL); the spec's errors otherwise."""
        return await self._intake.receive(media)

    async def receive_text(self, value: Any, field: str) -> AssetRecord:
        """Store media given as text: an http(s) URL or base64."""
        return await self._intake.receive_text(value, field)

    async def receive_character(
        self, character_id: Any, field: str = "character_id"
    ) -> AssetRecord:
        """A copy of a workspace character's newest reference image, as the transform's input
        (see :func:`.intake.character_copy`)."""
        return await character_copy(
            self._references, self._assets, self._store, character_id, field
        )

    async def transform(
        self,
        request: TransformRequest,
        upload: AssetRecord,
        *,
        source: str,
        task: Task | None = None,
        progress: Progress | None = None,
    ) -> FinishedTransform | DryRunResult:
        """Transform ``upload`` (see the module docstring); it is deleted at the end unless
        kept. ``task`` (``/dev/run``'s) must fit the media's kind."""
        started, started_at = time.monotonic(), time.time()
        notify = progress or _ignore
        log.info(
            "transform.requested",
            source=source,
            media_kind=upload.kind,
            content_type=upload.content_type,
            size_bytes=upload.size_bytes,
            description_chars=len(request.scene_description),
            output_count=request.output_count,
            aspect_ratio=request.aspect_ratio,
            style_preset=request.style_preset,
            dry_run=request.dry_run,
        )
        keep = request.keep_upload and not request.dry_run
        recorded = False
        inputs = TransformInput(
            upload,
            settings=self.settings,
            store=self._store,
            assets=self._assets,
            providers=self._providers,
            temp_dir=self.temp_dir,
        )
        try:
            results.check_task(task, inputs.task)
            if inputs.task == "IMAGE_GENERATION":
                await inputs.check_photo(self.analyzer)
            await notify({"event": "checked", "media_kind": upload.kind})
            choice = choose_providers(self._providers, self.settings, inputs.task, request.provider)
            if request.dry_run:
                return await self._dry_run(request, inputs, choice.providers)
            self._started_engine()
            start = await self._runs.record(
                request, inputs, choice, source=source, keep=keep, clock=(started, started_at)
            )
            recorded = True
            timeout = self._timeout_s(inputs.task)
            return await self._runs.run(request, inputs, choice, start, timeout, notify)
        except InvalidInput as exc:
            log.info("transform.refused", code=exc.code, reason=exc.details.get("reason"))
            raise
        finally:
            # A request refused before its transform was recorded keeps nothing, even an
            # upload it asked to keep: no record would ever point at it.
            await inputs.release(keep_upload=keep and recorded)

    def offline_notice(self) -> str | None:
        """What the page says up front when a transform would only get the offline studio's
        style look (no provider configured for photos or videos); None when both have one."""
        tasks: tuple[tuple[str, Task], ...] = (
            ("photos", "IMAGE_GENERATION"),
            ("videos", "VIDEO_GENERATION"),
        )
        offline = [
            kind
            for kind, task in tasks
            if not configured_providers(self._providers, self.settings, task)
        ]
        if not offline:
            return None
        if not self.settings.offline_fallback:
            return (
                f"No transform provider is configured for {' or '.join(offline)}: such "
                "requests are refused here."
            )
        return (
            f"Offline: no transform provider is configured for {' or '.join(offline)}. The "
            "offline studio only applies a style look; it does not put the person in a new scene."
        )

    async def end_unstarted(self, recorded_before: datetime) -> list[str]:
        """Transforms whose process died before their run started, ended (the engine's
        :class:`~reelforge.engine.features.UnstartedWork`; see :mod:`.stranded`)."""
        return await self._stranded.end_unstarted(recorded_before)

    async def get(self, transform_id: str) -> dict[str, Any]:
        record = await self._transforms.get(transform_id)
        return results.record_view(record)

    async def list_transforms(
        self, *, project_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        records = await self._transforms.list(project_id=project_id, limit=limit, offset=offset)
        return [results.record_view(record) for record in records]

    # -- the contract ------------------------------------------------------------------------

    def parse(self, data: Mapping[str, Any]) -> TransformAttempt:
        """Transforms need media and a face check first: no generic start."""
        raise InvalidInput(
            "A transform starts with its media: POST /generate/cinematic, POST /dev/run or "
            "the MCP tool cinematic_switch.",
            details={"feature": FEATURE},
        )

    async def plan(self, request: TransformAttempt, *, project_id: str | None = None) -> RunPlan:
        """One provider's run: a job per variation, and what the finish step needs to know."""
        return RunPlan(
            jobs=self._specs(request.request, request.plan, request.task),
            input=request.run_input().model_dump(mode="json"),
            project_id=request.request.project_id if project_id is None else project_id,
        )

    async def finish(self, run: FinishedRun) -> dict[str, Any]:
        """The run's final step: the transform recorded with its outputs and scores, the
        inputs handed to the run deleted, and the response (the spec's envelope, or its error
        envelope). Idempotent: the outputs are recorded in place of any recorded before."""
        asked = AttemptInput.model_validate(run.run.input)
        response = await self._record_end(run, asked)
        await delete_inputs(self._assets, asked.release)
        return response

    async def _record_end(self, run: FinishedRun, asked: AttemptInput) -> dict[str, Any]:
        """The transform recorded as this run ended it; the response. A run started before
        the finish step came (its input has none of the newer fields) is finished from its
        jobs and the settings."""
        view = await self._engine.get_run(run.id)
        provider = asked.provider or view.jobs[0].provider
        task: Task = asked.task or (
            "VIDEO_GENERATION" if asked.media_kind == "video" else "IMAGE_GENERATION"
        )
        started = run.run.created_at.timestamp() if asked.started_at is None else asked.started_at
        attempts = [
            *[
                results.Attempt(e.provider, await self._engine.get_run(e.run_id))
                for e in asked.earlier
            ],
            results.Attempt(provider, view),
        ]
        record = await self._transforms.get(asked.transform_id)
        if run.status == "canceled" and record.details.get("timed_out_run") == run.id:
            timeout = asked.timeout_s or self._timeout_s(task)
            timed_out = results.timed_out(provider, task, timeout)
            return await self._record_failure(asked, timed_out, attempts, started)
        if not view.counts.get("succeeded"):
            error = results.failure(
                results.no_output(), attempts, task, self.settings, self._providers
            )
            return await self._record_failure(asked, error, attempts, started)
        judge = IdentityJudge(self.analyzer, self.settings.identity_threshold)
        outputs = await self._scoring.outputs(view, task, asked.upload_id, judge)
        result = results.success(
            asked.transform_id, task, attempts, outputs, asked.warnings, started, self.settings
        )
        outcome = results.success_outcome(result, attempts, outputs, asked.keep_upload)
        await self._transforms.finish(asked.transform_id, outcome)
        log.info(
            "transform.completed",
            transform_id=asked.transform_id,
            provider=result.provider,
            model=result.model_used,
            variations=len(result.outputs),
            failed=len(result.warnings),
            processing_time_s=result.processing_time,
        )
        return result.to_envelope()

    # -- steps -------------------------------------------------------------------------------

    async def _dry_run(
        self, request: TransformRequest, inputs: TransformInput, providers: tuple[str, ...]
    ) -> DryRunResult:
        plan = await inputs.plan_for(providers[0], request)
        specs = self._specs(request, plan, inputs.task)
        scopes = results.scopes(request)
        estimate = await self._budget.estimate_plan(planned_jobs(specs), scopes)
        log.info("transform.dry_run", provider=providers[0], jobs=len(specs))
        view = plan_view(specs, providers)
        return DryRunResult(providers[0], inputs.task, estimate.to_json(), view)

    async def _record_failure(
        self,
        asked: AttemptInput,
        error: ReelforgeError,
        attempts: list[results.Attempt],
        started: float,
    ) -> dict[str, Any]:
        outcome = results.failed_outcome(error, attempts, started, asked.keep_upload)
        await self._transforms.finish(asked.transform_id, outcome)
        log.info("transform.failed", transform_id=asked.transform_id, code=error.code)
        return results.failure_envelope(error)

    # -- helpers -----------------------------------------------------------------------------

    def _started_engine(self) -> EngineService:
        if not self._engine.started:
            raise ConfigurationError(
                "The job engine is not running here; transforms run on it "
                "(reelforge serve starts it)."
            )
        return self._engine

    def _timeout_s(self, task: Task) -> float:
        """How long a request waits for a whole transform of ``task``."""
        settings = self.settings
        if task == "VIDEO_GENERATION":
            return settings.video_request_timeout_s
        return settings.request_timeout_s

    def _specs(self, request: TransformRequest, plan: TransformPlan, task: Task) -> list[JobSpec]:
        video = task == "VIDEO_GENERATION"
        settings = self.settings
        return job_specs(
            request,
            plan,
            settings,
            provider_class=self._providers.provider_class(plan.provider),
            poll_interval_s=settings.video_poll_interval_s if video else settings.poll_interval_s,
            duration_s=settings.video_duration_s if video else None,
        )


async def _ignore(_event: dict[str, Any]) -> None:
    return None


def _face_models(folder: Path | None) -> FaceModels | None:
    if folder is None:
        return None
    root = folder.expanduser()
    return FaceModels(root / SHAPE_PREDICTOR_FILE, root / RECOGNITION_MODEL_FILE)
