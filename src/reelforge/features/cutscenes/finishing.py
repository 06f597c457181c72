"""A cutscene's stages as engine runs: the still's run, then the clip's, each finished here.

A cutscene is two runs of the engine, and each run's finish step (run by the engine when the
run's job ends, whether or not anyone is waiting, see :mod:`reelforge.engine.features`) moves
the cutscene on::

    trigger: still run started, then the cutscene recorded (the still generating)
    still run ends --finish: still recorded, clip affordable--> clip run starts
    clip run ends  --finish: clip recorded and announced-->     done
    (a failed still, a skipped or failed clip: recorded, announced, done)

The trigger starts the still's run before it records the cutscene, so a recorded cutscene
always has its still's run, durable in the engine (a process killed in between leaves a run
whose finish finds no cutscene: the trigger never answered, nobody waits for it); the still's
finish waits a little for the record (:data:`RECORD_WAIT_S`).

Each finish may run twice (a crash between the work and its checkpoint), so each is written to
be run again: the clip's run id is chosen from the cutscene's id
(:func:`~reelforge.engine.features.stable_run_id`) and recorded with the ``clip`` stage before
the run is started, and starting that run again starts nothing new, so the clip is made and
billed once; announcements are keyed, so each is made once. A cutscene already past a stage is
left as it is.

A still, and a clip's poster frame, showing characters with reference photos is measured
against their faces as it is recorded (:mod:`.identity`).

Before the clip, the budget is asked again (a long still may have left the session with less
room than at the trigger): when the clip no longer fits, or the engine's reservation refuses
it, the still stands and the clip is recorded as skipped, with the reason. A failure is
recorded on the media records and announced; it never reaches the app that triggered it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reelforge.assets import AssetService
from reelforge.budget.records import usd
from reelforge.budget.scopes import BudgetScope
from reelforge.budget.service import BudgetService
from reelforge.catalog.records import JobRecord
from reelforge.engine.features import FinishedRun, RunPlan, stable_run_id
from reelforge.engine.service import EngineService
from reelforge.engine.specs import JobSpec
from reelforge.errors import (
    BudgetExhausted,
    ConfigurationError,
    NotFound,
    ReelforgeError,
    StorageError,
)
from reelforge.features.cutscenes.feed import MediaFeed, event, media_url, media_view
from reelforge.features.cutscenes.identity import MediaIdentity
from reelforge.features.cutscenes.planning import CLIP_LABEL, FEATURE, STILL_LABEL
from reelforge.features.cutscenes.repository import CutsceneRepository, MediaUpdate
from reelforge.features.cutscenes.schemas import MediaEventKind
from reelforge.features.cutscenes.tables import UNSET, CutsceneRecord, MediaRecord
from reelforge.log import get_logger

__all__ = ["RECORD_WAIT_S", "CutsceneStages", "stage_input", "stage_run_id", "still_run_plan"]

log = get_logger(__name__)

#: How long a still's finish waits for its cutscene's record (the trigger writes it right
#: after starting the still's run) before taking the run for one whose trigger died.
RECORD_WAIT_S = 30.0


def stage_run_id(cutscene_id: str, step: str) -> str:
    """The id of the run that makes ``step`` (``still`` or ``clip``) of a cutscene."""
    return stable_run_id(FEATURE, cutscene_id, step)


def stage_input(cutscene: CutsceneRecord, step: str) -> dict[str, Any]:
    """What a stage's run keeps as its input: which cutscene, which step."""
    return {"cutscene_id": cutscene.id, "step": step, "kind": cutscene.kind}


def still_run_plan(cutscene_id: str, kind: str, still: Mapping[str, Any]) -> RunPlan:
    """The still's run of a cutscene: its planned job, under the id chosen from the cutscene's."""
    return RunPlan(
        jobs=[JobSpec.model_validate(still)],
        input={"cutscene_id": cutscene_id, "step": STILL_LABEL, "kind": kind},
        priority="interactive",
        run_id=stage_run_id(cutscene_id, STILL_LABEL),
    )


class CutsceneStages:
    """Starts a cutscene's stages and finishes their runs; see the module docstring."""

    def __init__(
        self,
        repository: CutsceneRepository,
        feed: MediaFeed,
        *,
        budget: BudgetService,
        assets: AssetService,
        engine: EngineService,
        service_url: str,
        identity: MediaIdentity | None = None,
    ) -> None:
        """``service_url``: the public URL the announced media URLs start with;
        ``identity``: measures stored stills and posters (None: nothing is measured)."""
        self._repository = repository
        self._feed = feed
        self._service_url = service_url
        self._budget = budget
        self._assets = assets
        self._engine = engine
        self._identity = identity

    # -- the still ---------------------------------------------------------------------------

    def still_plan(self, cutscene: CutsceneRecord) -> RunPlan:
        """The still's run, under the id the cutscene recorded for it."""
        return still_run_plan(cutscene.id, cutscene.kind, cutscene.plan["still"])

    async def start_still(self, cutscene_id: str, kind: str, still: Mapping[str, Any]) -> str:
        """Start the still's run of a cutscene about to be recorded (see the module docstring);
        a start that fails is raised, and nothing is left behind."""
        return await self._engine.start(FEATURE, still_run_plan(cutscene_id, kind, still))

    # -- finishing ---------------------------------------------------------------------------

    async def finish(self, run: FinishedRun) -> dict[str, Any]:
        """A stage's run ended: record it and move the cutscene on (idempotent)."""
        cutscene_id = str(run.run.input.get("cutscene_id", ""))
        step = str(run.run.input.get("step", STILL_LABEL))
        cutscene = await self._recorded(cutscene_id)
        if cutscene is None:
            # The trigger started the still and died before recording the cutscene: it never
            # answered, so nobody knows of this cutscene.
            log.warning("cutscene.run_without_cutscene", run_id=run.id, step=step)
            return {"cutscene_id": cutscene_id or None, "step": step, "stage": None, "media": []}
        job = run.jobs[0] if run.jobs else None
        try:
            if step == CLIP_LABEL:
                await self._clip_ended(cutscene, job)
            else:
                await self._still_ended(cutscene, job)
        except ReelforgeError as exc:
            if exc.retryable or isinstance(exc, StorageError):
                raise  # the engine runs the finish again
            log.error("cutscene.failed", cutscene_id=cutscene.id, code=exc.code)
            await self.fail_rest(cutscene.id, {"code": exc.code, "message": exc.message})
        except Exception as exc:
            # Whatever else went wrong, it ends here: recorded and announced, as a provider
            # failure would be, never raised at the app.
            log.error("cutscene.failed", cutscene_id=cutscene.id, error_type=type(exc).__name__)
            await self.fail_rest(
                cutscene.id,
                {"code": "INTERNAL_ERROR", "message": "The cutscene could not go on."},
            )
        return await self._response(cutscene.id, step)

    async def _recorded(self, cutscene_id: str) -> CutsceneRecord | None:
        """The cutscene, once its trigger has recorded it (a still's run starts just before)."""
        deadline = time.monotonic() + RECORD_WAIT_S
        while True:
            try:
                return await self._repository.get(cutscene_id)
            except NotFound:
                if not cutscene_id or time.monotonic() >= deadline:
                    return None
            await asyncio.sleep(0.1)

    async def _still_ended(self, cutscene: CutsceneRecord, job: JobRecord | None) -> None:
        if cutscene.stage == "done":
            return
        if cutscene.stage == "clip":
            # A finish run again after it chose the clip's run: start it again (a run that
            # exists is not started twice).
            await self._start_clip(cutscene)
            return
        if job is None or job.status != "succeeded" or not job.asset_ids:
            await self.fail_rest(cutscene.id, _job_error(job))
            return
        still = await self._media(cutscene, "image")
        asset_id = job.asset_ids[0]
        update = MediaUpdate(
            "complete",
            asset_id=asset_id,
            cost_usd=job.cost_usd,
            identity=await self._measured(cutscene, still, asset_id),
        )
        await self._update(still, update, "ready", url=self._url(still))
        clip = await self._maybe_media(cutscene, "video")
        if cutscene.plan.get("clip") is None or clip is None:
            await self._repository.set_stage(cutscene.id, "done")
            log.info("cutscene.done", cutscene_id=cutscene.id)
            return
        reason = await self._clip_refused(cutscene)
        if reason is not None:
            await self._skip_clip(cutscene, clip, reason)
            return
        cutscene = await self._repository.set_stage(
            cutscene.id, "clip", clip_run_id=stage_run_id(cutscene.id, CLIP_LABEL)
        )
        await self._start_clip(cutscene)

    async def _start_clip(self, cutscene: CutsceneRecord) -> None:
        still = await self._media(cutscene, "image")
        clip = await self._media(cutscene, "video")
        if clip.status == "pending":
            update = MediaUpdate("generating", run_id=cutscene.clip_run_id)
            await self._update(clip, update, "generating")
        spec = JobSpec.model_validate(cutscene.plan["clip"]).model_copy(
            update={"input_asset_ids": (still.asset_id,)}
        )
        plan = RunPlan(
            jobs=[spec],
            input=stage_input(cutscene, CLIP_LABEL),
            priority="interactive",
            run_id=cutscene.clip_run_id,
        )
        try:
            await self._engine.start(FEATURE, plan)
        except ReelforgeError as exc:
            # The engine waited out a busy database already; a start that still fails is
            # recorded failed and never runs, so the clip ends here rather than wait forever.
            log.error("cutscene.clip_not_started", cutscene_id=cutscene.id, code=exc.code)
            await self._fail(clip, {"code": exc.code, "message": exc.message})
            await self._repository.set_stage(cutscene.id, "done")
            return
        await self._end_clip_never_finished(cutscene, clip)

    async def _end_clip_never_finished(self, cutscene: CutsceneRecord, clip: MediaRecord) -> None:
        """A clip run that ended without its finish step: its start failed and the process
        stopped before recording the clip, or its finish gave up. The clip ends failed here
        (a finish that ran left the run its response)."""
        assert cutscene.clip_run_id is not None
        run = await self._engine.get_run(cutscene.clip_run_id)
        if not run.done or run.response is not None:
            return
        log.error("cutscene.clip_run_unfinished", cutscene_id=cutscene.id, run_id=run.id)
        error = {"code": "INTERNAL_ERROR", "message": f"The clip's run ended {run.status}."}
        await self._fail(clip, error)
        await self._repository.set_stage(cutscene.id, "done")

    async def _clip_ended(self, cutscene: CutsceneRecord, job: JobRecord | None) -> None:
        if cutscene.stage == "done":
            return
        clip = await self._media(cutscene, "video")
        if job is not None and job.status == "succeeded" and job.asset_ids:
            asset = await self._assets.get(job.asset_ids[0])
            still = await self._media(cutscene, "image")
            update = MediaUpdate(
                "complete",
                asset_id=asset.id,
                cost_usd=job.cost_usd,
                duration_seconds=asset.duration_s,
                identity=await self._measured(cutscene, clip, asset.id),
            )
            await self._update(clip, update, "ready", url=self._url(clip), poster=self._url(still))
        elif job is not None and job.error_code == BudgetExhausted.code:
            await self._skip_clip(cutscene, clip, f"budget: {job.error_message or ''}")
            return
        else:
            await self._fail(clip, _job_error(job))
        await self._repository.set_stage(cutscene.id, "done")
        log.info("cutscene.done", cutscene_id=cutscene.id)

    async def _measured(
        self, cutscene: CutsceneRecord, media: MediaRecord, asset_id: str
    ) -> dict[str, Any] | None:
        """The media's measured continuity; left unset when there is nothing to measure or
        the measuring failed (a soft signal: the media stands either way)."""
        if self._identity is None:
            return UNSET  # type: ignore[no-any-return]
        try:
            found = await self._identity.measured(cutscene, media, asset_id)
        except ReelforgeError as exc:
            if exc.retryable or isinstance(exc, StorageError):
                raise
            log.warning("cutscene.identity_failed", media_id=media.id, code=exc.code)
            found = None
        return UNSET if found is None else found

    # -- records -----------------------------------------------------------------------------

    def _url(self, media: MediaRecord) -> str:
        return media_url(self._service_url, media.id)

    async def _clip_refused(self, cutscene: CutsceneRecord) -> str | None:
        """Why the budget cannot cover the clip now (None: it can)."""
        price = cutscene.plan.get("clip_usd")
        if price is None:
            return None
        scopes = [BudgetScope.parse(key) for key in cutscene.plan.get("scopes", [])]
        found = await self._budget.can_afford(scopes, Decimal(price))
        limiting = found.limiting
        if found.affordable or limiting is None:
            return None
        left = max(limiting.remaining_usd or Decimal(0), Decimal(0))
        return f"budget: {limiting.scope.key} has ${usd(left)} left; the clip needs ${price}"

    async def _skip_clip(self, cutscene: CutsceneRecord, clip: MediaRecord, reason: str) -> None:
        update = MediaUpdate("failed", error_code=BudgetExhausted.code, error_message=reason)
        await self._update(clip, update, "skipped", reason=reason)
        await self._repository.set_stage(cutscene.id, "done", clip_skipped_reason=reason)
        log.info("cutscene.clip_skipped", cutscene_id=cutscene.id)

    async def fail_rest(self, cutscene_id: str, error: dict[str, str]) -> None:
        """Every unfinished media record of the cutscene failed with ``error``; done."""
        for media in await self._repository.media_of(cutscene_id):
            if media.status in ("pending", "generating"):
                await self._fail(media, error)
        await self._repository.set_stage(cutscene_id, "done")

    async def _fail(self, media: MediaRecord, error: dict[str, str]) -> None:
        update = MediaUpdate("failed", error_code=error["code"], error_message=error["message"])
        await self._update(media, update, "failed", error=error)

    async def _update(
        self, media: MediaRecord, change: MediaUpdate, kind: MediaEventKind, **extra: Any
    ) -> MediaRecord:
        updated = await self._repository.update_media(
            media.id, change, event(kind, media, status=change.status, **extra)
        )
        self._feed.wake(media.campaign_id, media.session_id)
        return updated

    async def _media(self, cutscene: CutsceneRecord, asset_type: str) -> MediaRecord:
        found = await self._maybe_media(cutscene, asset_type)
        if found is None:
            raise ConfigurationError(f"Cutscene {cutscene.id} has no {asset_type} record.")
        return found

    async def _maybe_media(self, cutscene: CutsceneRecord, asset_type: str) -> MediaRecord | None:
        for media in await self._repository.media_of(cutscene.id):
            if media.asset_type == asset_type:
                return media
        return None

    async def _response(self, cutscene_id: str, step: str) -> dict[str, Any]:
        """What the stage's run keeps as its response: the cutscene's stage and media."""
        cutscene = await self._repository.get(cutscene_id)
        media = await self._repository.media_of(cutscene_id)
        return {
            "cutscene_id": cutscene_id,
            "step": step,
            "stage": cutscene.stage,
            "clip_skipped": cutscene.clip_skipped_reason,
            "media": [media_view(record, self._service_url) for record in media],
        }


def _job_error(job: JobRecord | None) -> dict[str, str]:
    if job is not None and job.error_code is not None:
        return {"code": job.error_code, "message": job.error_message or ""}
    status = "without a job" if job is None else job.status
    return {"code": "provider_error", "message": f"The job ended {status}."}
