"""The transform service: checked media in, transformed media out, through the job engine.

A face checks the request's fields (:mod:`.validation`), brings the media in with
:meth:`TransformService.receive` or :meth:`~TransformService.receive_text` (:mod:`.intake`),
then calls :meth:`TransformService.transform`, which:

1. runs the face check on a photo: no face, several faces or a face too small is refused
   before any provider is called;
2. chooses the providers (:mod:`.planning`) and prepares their input (:mod:`.inputs`): the
   photo reframed around the face, or a video's first frame;
3. for a dry run, prices the jobs and stops;
4. runs every variation as one job of one engine run (concurrently, no retries), with the
   provider timeout as the jobs' give-up time and the request timeout as the wait; a video
   whose provider made nothing goes to the next one (the configured fallback order);
5. scores each output image's face against the input (:mod:`.identity`), records the
   transform and its outputs, and answers in the spec's envelope, with a warning per failed
   variation (:mod:`.results`).

Uploads and the inputs made from them are deleted when the transform ends, unless the request
keeps the upload. Logs carry sizes, types, lengths and codes, never the description or media.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from reelforge.catalog.records import AssetRecord
from reelforge.engine.service import EngineService, RunView
from reelforge.engine.specs import JobSpec
from reelforge.errors import ConfigurationError, InvalidInput, ReelforgeError
from reelforge.features.transform import results
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.identity import NOT_AN_IMAGE, UNAVAILABLE, IdentityJudge
from reelforge.features.transform.inputs import TransformInput, decode_upright
from reelforge.features.transform.intake import Intake
from reelforge.features.transform.planning import (
    LOCAL,
    ProviderChoice,
    TransformPlan,
    choose_providers,
    job_specs,
    plan_view,
    planned_jobs,
)
from reelforge.features.transform.repository import NewTransform, TransformRepository
from reelforge.features.transform.schemas import (
    FEATURE,
    DryRunResult,
    Task,
    TransformRequest,
    TransformResult,
    provider_label,
)
from reelforge.features.transform.upload import MediaUrl, StagedMedia
from reelforge.log import get_logger
from reelforge.providers.local.faces import (
    RECOGNITION_MODEL_FILE,
    SHAPE_PREDICTOR_FILE,
    FaceAnalyzer,
    FaceModels,
)
from reelforge.services import Services

__all__ = ["Progress", "TransformService"]

log = get_logger(__name__)

Progress = Callable[[dict[str, Any]], Awaitable[None]]


class TransformService:
    """Transforms for every face (REST, MCP, CLI, the page). It holds one face analyzer
    (its dlib models load once), so a face builds one service and keeps it."""

    def __init__(self, services: Services, analyzer: FaceAnalyzer | None = None) -> None:
        self._services = services
        self._transforms = TransformRepository.on(services.catalog)
        self._analyzer = analyzer
        self._intake = Intake(services)

    @property
    def settings(self) -> TransformSettings:
        return self._services.settings.transform

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer(
                _face_models(self._services), detect_max_side=self.settings.face_detect_max_side
            )
        return self._analyzer

    async def receive(self, media: StagedMedia | MediaUrl) -> AssetRecord:
        """Store checked media (a staged upload or a URL); the spec's errors otherwise."""
        return await self._intake.receive(media)

    async def receive_text(self, value: Any, field: str) -> AssetRecord:
        """Store media given as text: an http(s) URL or base64."""
        return await self._intake.receive_text(value, field)

    async def transform(
        self,
        request: TransformRequest,
        upload: AssetRecord,
        *,
        source: str,
        task: Task | None = None,
        progress: Progress | None = None,
    ) -> TransformResult | DryRunResult:
        """Transform ``upload`` (see the module docstring); it is deleted at the end unless
        kept. ``task`` (``/dev/run``'s) must fit the media's kind."""
        started = time.monotonic()
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
        inputs = TransformInput(self._services, upload)
        try:
            results.check_task(task, inputs.task)
            if inputs.task == "IMAGE_GENERATION":
                await inputs.check_photo(self.analyzer)
            await notify({"event": "checked", "media_kind": upload.kind})
            choice = choose_providers(
                self._services.providers, self.settings, inputs.task, request.provider
            )
            if request.dry_run:
                return await self._dry_run(request, inputs, choice.providers)
            transform_id = await self._record_start(request, upload, source, keep)
            return await self._run(request, inputs, choice, transform_id, started, notify)
        except InvalidInput as exc:
            log.info("transform.refused", code=exc.code, reason=exc.details.get("reason"))
            raise
        finally:
            await inputs.release(keep_upload=keep)

    async def get(self, transform_id: str) -> dict[str, Any]:
        record = await self._transforms.get(transform_id)
        return results.record_view(record)

    async def list_transforms(
        self, *, project_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        records = await self._transforms.list(project_id=project_id, limit=limit, offset=offset)
        return [results.record_view(record) for record in records]

    # -- steps -------------------------------------------------------------------------------

    async def _dry_run(
        self, request: TransformRequest, inputs: TransformInput, providers: tuple[str, ...]
    ) -> DryRunResult:
        plan = await inputs.plan_for(providers[0], request)
        specs = self._specs(request, plan, inputs.task)
        scopes = results.scopes(request)
        estimate = await self._services.budget.estimate_plan(planned_jobs(specs), scopes)
        log.info("transform.dry_run", provider=providers[0], jobs=len(specs))
        view = plan_view(specs, providers)
        return DryRunResult(providers[0], inputs.task, estimate.to_json(), view)

    async def _run(
        self,
        request: TransformRequest,
        inputs: TransformInput,
        choice: ProviderChoice,
        transform_id: str,
        started: float,
        notify: Progress,
    ) -> TransformResult:
        engine = self._engine()
        video = inputs.task == "VIDEO_GENERATION"
        timeout = (
            self.settings.video_request_timeout_s if video else self.settings.request_timeout_s
        )
        attempts: list[results.Attempt] = []
        try:
            for provider in choice.providers:
                if attempts:
                    await notify({"event": "fallback", "provider": provider_label(provider)})
                plan = await inputs.plan_for(provider, request)
                run_id = await engine.start_run(
                    FEATURE,
                    self._specs(request, plan, inputs.task),
                    input=results.run_input(request, inputs.upload, transform_id),
                    project_id=request.project_id,
                )
                await notify({"event": "provider", "provider": provider_label(provider)})
                view = await self._wait(engine, run_id, started + timeout, notify)
                attempts.append(results.Attempt(provider, view))
                if not view.done:
                    raise results.timed_out(provider, inputs.task, timeout)
                if view.counts.get("succeeded"):
                    break
            if not attempts[-1].view.counts.get("succeeded"):
                raise results.no_output()
            await notify({"event": "scoring"})
            outputs = await self._outputs(inputs, attempts[-1].view)
            result = results.success(
                transform_id,
                inputs.task,
                attempts,
                outputs,
                choice.warnings,
                started,
                self.settings,
            )
        except ReelforgeError as exc:
            error = results.failure(
                exc, attempts, inputs.task, self.settings, self._services.providers
            )
            outcome = results.failed_outcome(error, attempts, started, request.keep_upload)
            await self._transforms.finish(transform_id, outcome)
            log.info("transform.failed", transform_id=transform_id, code=error.code)
            raise error from None
        await self._transforms.finish(
            transform_id, results.success_outcome(result, attempts, outputs, request.keep_upload)
        )
        await self._services.catalog.runs.set_response(attempts[-1].view.id, result.to_envelope())
        log.info(
            "transform.completed",
            transform_id=transform_id,
            provider=result.provider,
            model=result.model_used,
            variations=len(result.outputs),
            failed=len(result.warnings),
            processing_time_s=result.processing_time,
        )
        return result

    async def _wait(
        self, engine: EngineService, run_id: str, deadline: float, notify: Progress
    ) -> RunView:
        remaining = deadline - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    async for event in engine.follow(run_id):
                        await notify(results.progress_event(event))
        view = await engine.get_run(run_id)
        if not view.done:
            await engine.cancel_run(run_id)
        return view

    async def _outputs(self, inputs: TransformInput, view: RunView) -> list[results.Output]:
        judge = IdentityJudge(self.analyzer, self.settings.identity_threshold)
        reference = None
        if inputs.image is not None and inputs.face is not None:
            reference = await asyncio.to_thread(judge.reference, inputs.image, inputs.face)
        store = self._services.store
        outputs = []
        for job in view.jobs:
            if job.status != "succeeded":
                continue
            for asset_id in job.asset_ids:
                asset = await self._services.assets.get(asset_id)
                score = NOT_AN_IMAGE
                if asset.kind == "image" and inputs.task == "IMAGE_GENERATION":
                    score = UNAVAILABLE
                    if reference is not None:
                        data = await store.get_bytes(asset.key, max_bytes=asset.size_bytes + 1)
                        image, _ = await asyncio.to_thread(decode_upright, data)
                        score = await asyncio.to_thread(judge.score, reference, image)
                outputs.append(results.Output(job, asset, store.public_url(asset.key), score))
        return outputs

    # -- helpers -----------------------------------------------------------------------------

    def _engine(self) -> EngineService:
        if self._services.engine is None:
            raise ConfigurationError(
                "The job engine is not running here; transforms run on it "
                "(reelforge serve starts it)."
            )
        return self._services.engine

    def _specs(self, request: TransformRequest, plan: TransformPlan, task: Task) -> list[JobSpec]:
        video = task == "VIDEO_GENERATION"
        settings = self.settings
        return job_specs(
            request,
            plan,
            settings,
            provider_class=self._services.providers.provider_class(plan.provider),
            poll_interval_s=settings.video_poll_interval_s if video else settings.poll_interval_s,
            duration_s=settings.video_duration_s if video else None,
        )

    async def _record_start(
        self, request: TransformRequest, upload: AssetRecord, source: str, keep: bool
    ) -> str:
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
                identity_threshold=self.settings.identity_threshold,
                project_id=request.project_id,
            )
        )
        return record.id


async def _ignore(_event: dict[str, Any]) -> None:
    return None


def _face_models(services: Services) -> FaceModels | None:
    folder = services.settings.provider_section(LOCAL).get("face_models_dir")
    if not folder:
        return None
    root = Path(str(folder)).expanduser()
    return FaceModels(root / SHAPE_PREDICTOR_FILE, root / RECOGNITION_MODEL_FILE)
