"""The cutscene workflow: the still, then the clip, through the job engine, in the background.

:class:`CutsceneDirector` drives each cutscene through its stages, every provider call being a
run of the engine (durable, budget-aware, limited per provider)::

    queued --start the still's run--> still --still made, clip planned and affordable-->
    clip --clip made or failed--> done          (any failure, or a skipped clip: --> done)

Where it is lives in the catalog (the cutscene's stage and run ids, the media records), and
each stage can be entered again: a run started but not yet recorded is found again by the
cutscene id in its input, so nothing is submitted twice. One process drives a cutscene at a
time, holding its lease; a process that stops (crash, deploy) leaves the lease to run out,
and any process's director sweeps up cutscenes nobody holds and carries on from their stage.

Before the clip, the budget is asked again (a long still may have left the session with less
room than at the trigger): when the clip no longer fits, or the engine's reservation refuses
it, the still stands and the clip is recorded as skipped, with the reason. A failure is
recorded on the media records and announced; it never reaches the app that triggered it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from reelforge.assets import AssetService
from reelforge.budget.records import usd
from reelforge.budget.scopes import BudgetScope
from reelforge.budget.service import BudgetService
from reelforge.catalog.repositories.runs import RunRepository
from reelforge.engine.service import EngineService, JobView, RunView
from reelforge.engine.specs import JobSpec
from reelforge.errors import BudgetExhausted, ConfigurationError, ReelforgeError
from reelforge.features.cutscenes.feed import MediaFeed, media_url
from reelforge.features.cutscenes.planning import CLIP_LABEL, FEATURE, STILL_LABEL
from reelforge.features.cutscenes.repository import (
    CutsceneRepository,
    EventDraft,
    MediaDraft,
    MediaUpdate,
)
from reelforge.features.cutscenes.schemas import CutsceneType, MediaEventKind
from reelforge.features.cutscenes.tables import CutsceneRecord, MediaRecord
from reelforge.log import get_logger

__all__ = ["CutsceneDirector", "event", "pending_event"]

log = get_logger(__name__)

_WAIT_CHUNK_S = 30.0


def event(kind: MediaEventKind, media: MediaRecord, **extra: Any) -> EventDraft:
    """The announcement of ``media`` reaching ``kind`` (keyed, so it is made once)."""
    payload: dict[str, Any] = {
        "asset_type": media.asset_type,
        "cutscene_type": media.cutscene_type,
        "turn_number": media.turn_number,
        "location_name": media.location_name,
        **extra,
    }
    return EventDraft(kind=kind, key=f"{kind}:{media.id}", media_id=media.id, payload=payload)


def pending_event(cutscene_type: CutsceneType, turn: int | None, draft: MediaDraft) -> EventDraft:
    """The first announcement of a media record, made with the cutscene."""
    return EventDraft(
        kind="pending",
        key=f"pending:{draft.id}",
        media_id=draft.id,
        payload={
            "asset_type": draft.asset_type,
            "cutscene_type": cutscene_type.value,
            "turn_number": turn,
            "location_name": draft.location_name,
            "status": "pending",
        },
    )


class CutsceneDirector:
    """Drives cutscenes in this process; see the module docstring."""

    def __init__(
        self,
        repository: CutsceneRepository,
        feed: MediaFeed,
        *,
        runs: RunRepository,
        budget: BudgetService,
        assets: AssetService,
        engine: Callable[[], EngineService | None],
        owner: str,
        lease_s: float = 30.0,
    ) -> None:
        self._repository = repository
        self._feed = feed
        self._runs = runs
        self._budget = budget
        self._assets = assets
        self._engine = engine
        self.owner = owner
        self.lease_s = lease_s
        self._driving: dict[str, asyncio.Task[None]] = {}
        self._resumed: set[str] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # -- life --------------------------------------------------------------------------------

    def drive(self, cutscene_id: str, *, resumed: bool = False) -> None:
        """Start driving a cutscene in the background (once; a second call is a no-op).
        ``resumed``: another process (or an earlier start) may have begun it."""
        if cutscene_id in self._driving:
            return
        if resumed:
            self._resumed.add(cutscene_id)
        task = asyncio.create_task(self._drive(cutscene_id), name=f"cutscene-{cutscene_id}")
        self._driving[cutscene_id] = task
        task.add_done_callback(lambda _: self._forget(cutscene_id))
        self.ensure_sweeping()

    def _forget(self, cutscene_id: str) -> None:
        self._driving.pop(cutscene_id, None)
        self._resumed.discard(cutscene_id)

    def ensure_sweeping(self) -> None:
        """Start the sweep for cutscenes nobody drives (once per process, with an engine)."""
        if self._sweeper is None and self._engine() is not None:
            self._sweeper = asyncio.create_task(self._sweep(), name="cutscene-sweeper")

    async def idle(self) -> None:
        """Wait until this process drives nothing (the CLI waits for its cutscene)."""
        while self._driving:
            await asyncio.gather(*self._driving.values(), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop driving, letting go of the leases: another process (or the next start)
        carries on from where each cutscene is."""
        tasks = [*self._driving.values(), *([self._sweeper] if self._sweeper else [])]
        self._sweeper = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def sweep_once(self) -> list[str]:
        """Take up unfinished cutscenes whose lease ran out; returns their ids."""
        taken = []
        for cutscene_id in await self._repository.unattended():
            if cutscene_id not in self._driving:
                self.drive(cutscene_id, resumed=True)
                taken.append(cutscene_id)
        if taken:
            log.info("cutscene.swept", count=len(taken))
        return taken

    async def _sweep(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except ReelforgeError as exc:
                log.warning("cutscene.sweep_failed", code=exc.code)
            await asyncio.sleep(self.lease_s / 2)

    # -- one cutscene ------------------------------------------------------------------------

    async def _drive(self, cutscene_id: str) -> None:
        try:
            if not await self._repository.claim(cutscene_id, self.owner, self.lease_s):
                return
        except ReelforgeError as exc:
            log.warning("cutscene.claim_failed", cutscene_id=cutscene_id, code=exc.code)
            return
        keeper = asyncio.create_task(self._keep_lease(cutscene_id, asyncio.current_task()))
        try:
            await self._advance(cutscene_id)
        except asyncio.CancelledError:
            # Stopping (shutdown): let another process, or the next start, take over at once.
            with contextlib.suppress(Exception):
                await self._repository.release(cutscene_id, self.owner)
            raise
        except Exception as exc:
            # Whatever went wrong, it ends here: recorded, announced, never re-raised.
            log.error("cutscene.failed", cutscene_id=cutscene_id, error_type=type(exc).__name__)
            with contextlib.suppress(Exception):
                await self._fail_rest(cutscene_id, _error_of(exc))
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _keep_lease(self, cutscene_id: str, driver: asyncio.Task[Any] | None) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                held = await self._repository.claim(cutscene_id, self.owner, self.lease_s)
            except ReelforgeError:
                continue
            if not held:
                log.warning("cutscene.lease_lost", cutscene_id=cutscene_id)
                if driver is not None:
                    driver.cancel()
                return

    async def _advance(self, cutscene_id: str) -> None:
        cutscene = await self._repository.get(cutscene_id)
        while cutscene.stage != "done":
            if cutscene.stage == "queued":
                cutscene = await self._start_still(cutscene)
            elif cutscene.stage == "still":
                cutscene = await self._finish_still(cutscene)
            else:
                cutscene = await self._finish_clip(cutscene)
        log.info("cutscene.done", cutscene_id=cutscene_id)

    async def _start_still(self, cutscene: CutsceneRecord) -> CutsceneRecord:
        spec = JobSpec.model_validate(cutscene.plan["still"])
        run_id = await self._start(cutscene, STILL_LABEL, spec)
        cutscene = await self._repository.set_stage(cutscene.id, "still", still_run_id=run_id)
        still = await self._media(cutscene, "image")
        if still.status == "pending":
            await self._update(still, MediaUpdate("generating", run_id=run_id), "generating")
        return cutscene

    async def _finish_still(self, cutscene: CutsceneRecord) -> CutsceneRecord:
        assert cutscene.still_run_id is not None
        job = await self._job_of(await self._finished(cutscene.still_run_id))
        still = await self._media(cutscene, "image")
        if job.status != "succeeded" or not job.asset_ids:
            await self._fail_rest(cutscene.id, _job_error(job))
            return await self._repository.get(cutscene.id)
        asset_id = job.asset_ids[0]
        if still.status != "complete":
            update = MediaUpdate("complete", asset_id=asset_id, cost_usd=_cost(job))
            await self._update(still, update, "ready", url=media_url(still.id))
        clip = await self._maybe_media(cutscene, "video")
        if cutscene.plan.get("clip") is None or clip is None:
            return await self._repository.set_stage(cutscene.id, "done")
        reason = await self._clip_refused(cutscene)
        if reason is not None:
            await self._skip_clip(cutscene, clip, reason)
            return await self._repository.get(cutscene.id)
        spec = JobSpec.model_validate(cutscene.plan["clip"]).model_copy(
            update={"input_asset_ids": (asset_id,)}
        )
        run_id = await self._start(cutscene, CLIP_LABEL, spec)
        cutscene = await self._repository.set_stage(cutscene.id, "clip", clip_run_id=run_id)
        if clip.status == "pending":
            await self._update(clip, MediaUpdate("generating", run_id=run_id), "generating")
        return cutscene

    async def _finish_clip(self, cutscene: CutsceneRecord) -> CutsceneRecord:
        assert cutscene.clip_run_id is not None
        job = await self._job_of(await self._finished(cutscene.clip_run_id))
        clip = await self._media(cutscene, "video")
        if job.status == "succeeded" and job.asset_ids:
            asset = await self._assets.get(job.asset_ids[0])
            still = await self._media(cutscene, "image")
            update = MediaUpdate(
                "complete",
                asset_id=asset.id,
                cost_usd=_cost(job),
                duration_seconds=asset.duration_s,
            )
            await self._update(
                clip, update, "ready", url=media_url(clip.id), poster=media_url(still.id)
            )
        elif job.error is not None and job.error.get("code") == BudgetExhausted.code:
            await self._skip_clip(cutscene, clip, f"budget: {job.error.get('message', '')}")
        else:
            await self._fail(clip, _job_error(job))
        return await self._repository.set_stage(cutscene.id, "done")

    # -- steps -------------------------------------------------------------------------------

    async def _start(self, cutscene: CutsceneRecord, step: str, spec: JobSpec) -> str:
        """The run of ``step``: the one already started for it, else a new one."""
        recorded = cutscene.still_run_id if step == STILL_LABEL else cutscene.clip_run_id
        if recorded is not None:
            return recorded
        if cutscene.id in self._resumed:
            found = await self._started_before(cutscene.id, step)
            if found is not None:
                return found
        return await self._require_engine().start_run(
            FEATURE,
            [spec],
            priority="interactive",
            input={"cutscene_id": cutscene.id, "step": step, "kind": cutscene.kind},
        )

    async def _started_before(self, cutscene_id: str, step: str) -> str | None:
        # A crash between starting a run and recording it: the run is among the newest.
        for run in await self._runs.list(feature=FEATURE, limit=200):
            if run.input.get("cutscene_id") == cutscene_id and run.input.get("step") == step:
                return run.id
        return None

    async def _finished(self, run_id: str) -> RunView:
        engine = self._require_engine()
        view = await engine.wait_for_run(run_id, _WAIT_CHUNK_S)
        while not view.done:
            view = await engine.wait_for_run(run_id, _WAIT_CHUNK_S)
        return view

    async def _job_of(self, view: RunView) -> JobView:
        if not view.jobs:
            raise ConfigurationError(f"Run {view.id} has no job.")
        return view.jobs[0]

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

    async def _fail_rest(self, cutscene_id: str, error: dict[str, str]) -> None:
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

    def _require_engine(self) -> EngineService:
        engine = self._engine()
        if engine is None:
            raise ConfigurationError("The job engine is not running in this process.")
        return engine


def _cost(job: JobView) -> Decimal | None:
    return None if job.cost_usd is None else Decimal(job.cost_usd)


def _job_error(job: JobView) -> dict[str, str]:
    if job.error is not None:
        return {"code": job.error["code"], "message": job.error.get("message", "")}
    return {"code": "provider_error", "message": f"The job ended {job.status}."}


def _error_of(exc: Exception) -> dict[str, str]:
    if isinstance(exc, ReelforgeError):
        return {"code": exc.code, "message": exc.message}
    return {"code": "INTERNAL_ERROR", "message": "The cutscene workflow failed."}
