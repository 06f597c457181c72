"""The cutscenes service: every face (REST, MCP, CLI, pages) calls this.

- :meth:`CutsceneService.trigger` (the spec's ``trigger_cutscene``): checks the campaign's
  media settings (off until turned on), applies its budgets to the campaign and the game
  session, picks the best plan they afford (still and clip, else the still alone with the skip
  recorded, else the spec's ``Session media budget exhausted`` error with the budget), starts
  the still's engine run, then records the cutscene and its media (the still generating) with
  their announcements, and returns at once with the media ids and ``media_pending: true``
  (a recorded cutscene always has its still's run). The clip's run is started by the still's
  finish step, and each finish records and announces its media
  (:class:`~.finishing.CutsceneStages`), whether or not anyone follows the session's stream
  (:meth:`follow`); a failure is announced there, never raised at the caller.
- :meth:`generate_location_visual`: one still of a named location, the same way.
- ``dry_run``: the plan and its price (the budget's estimate), with no provider call.
- Reading: :meth:`gallery`, :meth:`media_for_turn`, :meth:`cost`, :meth:`open_media`.
- :meth:`settings` / :meth:`update_settings`: the spec's media settings, per campaign; while
  media is on, settings whose budgets can never pay for a still and its clip are refused.

The feature follows the one contract (:mod:`reelforge.engine.features`): :meth:`parse` and
:meth:`plan` let the generic faces (``POST /v1/runs``, MCP ``start_run``) start a cutscene too
(planning one starts its still's run and then records it, as a trigger does, so a process that
dies before the face starts the planned run leaves no cutscene without its run: the face's
start finds the run started), and :meth:`finish` is each stage's run's final step.

A trigger while media generation is off is refused with ``CONFLICT`` (409).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from reelforge.assets import AssetService
from reelforge.budget.records import usd
from reelforge.budget.scopes import BudgetScope
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord
from reelforge.continuity import IdentityMeter
from reelforge.engine.features import FinishedRun, RunPlan
from reelforge.engine.service import EngineService
from reelforge.errors import InvalidInput, NotFound
from reelforge.features.cutscenes.classifier import classify
from reelforge.features.cutscenes.config import CutsceneSettings
from reelforge.features.cutscenes.costing import check_settings
from reelforge.features.cutscenes.drafting import (
    CutsceneDrafts,
    CutsceneRequest,
    Draft,
    Prepared,
    media_settings,
)
from reelforge.features.cutscenes.feed import MediaFeed, media_view, pending_event
from reelforge.features.cutscenes.finishing import CutsceneStages, stage_run_id
from reelforge.features.cutscenes.identity import MediaIdentity
from reelforge.features.cutscenes.planning import FEATURE, STILL_LABEL
from reelforge.features.cutscenes.repository import CutsceneRepository, EventDraft
from reelforge.features.cutscenes.schemas import (
    Classification,
    LocationVisualRequest,
    MediaSettings,
    MediaSettingsUpdate,
    TriggerCutsceneRequest,
    TurnSignals,
)
from reelforge.features.cutscenes.tables import CutsceneRecord, MediaEventRecord, MediaRecord
from reelforge.log import get_logger
from reelforge.media.store import MediaStore
from reelforge.providers.registry import ProviderRegistry
from reelforge.references import CharacterReferences, ReferenceResolver
from reelforge.validation import invalid_input

__all__ = ["CutsceneRequest", "CutsceneService", "parse_model"]

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any) -> M:
    """``data`` as ``model``; pydantic's complaints as one ``INVALID_INPUT`` naming the fields
    (the same shape the REST error handler gives)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None


class CutsceneService:
    """Cutscenes and location visuals for interactive story apps; see the module docstring."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        assets: AssetService,
        budget: BudgetService,
        engine: EngineService,
        default_provider: str,
        providers: ProviderRegistry,
        characters: CharacterReferences,
        store: MediaStore,
        settings: CutsceneSettings,
        service_url: str,
        face_models_dir: Path | None = None,
        events_poll_s: float = 0.25,
    ) -> None:
        """``characters``: where workspace characters' reference images are read from;
        ``store``: where stills and posters are read from to measure their faces;
        ``service_url``: the public URL that media URLs start with;
        ``face_models_dir``: the dlib model files' folder (None: the installed package's)."""
        self._service_url = service_url
        self._repository = CutsceneRepository.on(catalog)
        self._assets = assets
        self._budget = budget
        self._engine = engine
        self._default_provider = default_provider
        self._drafts = CutsceneDrafts(
            self._repository,
            budget=budget,
            engine=engine,
            default_provider=default_provider,
            providers=providers,
            characters=characters,
            references=ReferenceResolver(characters, assets),
        )
        self.feed = MediaFeed(self._repository, poll_s=events_poll_s)
        meter = IdentityMeter(
            store,
            assets,
            threshold=settings.identity_threshold,
            face_models_dir=face_models_dir,
            detect_max_side=settings.face_detect_max_side,
            feature=FEATURE,
        )
        self._stages = CutsceneStages(
            self._repository,
            self.feed,
            budget=budget,
            assets=assets,
            engine=engine,
            service_url=service_url,
            identity=MediaIdentity(meter, assets),
        )

    # -- the feature contract ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return FEATURE

    def parse(self, data: Mapping[str, Any]) -> CutsceneRequest:
        """A trigger, or a location visual when ``location_name`` is given."""
        if "location_name" in data:
            return parse_model(LocationVisualRequest, data)
        return parse_model(TriggerCutsceneRequest, data)

    async def plan(self, request: CutsceneRequest, *, project_id: str | None = None) -> RunPlan:
        """Start the still's run and record the cutscene (its still generating, announced),
        as a trigger does; the plan of that run, which the generic face starts again (a run
        started under its chosen id starts once). ``project_id`` is not used: a cutscene's
        budgets are its campaign's and session's."""
        prepared = await self._drafts.prepare(request)
        if prepared.draft is None:
            raise InvalidInput(
                "Nothing to run: a dry run, or a turn that gets no cutscene (trigger_cutscene "
                "answers those)."
            )
        return self._stages.still_plan(await self._start(prepared.draft))

    async def finish(self, run: FinishedRun) -> dict[str, Any]:
        """A stage's run ended (the still's, or the clip's): see :mod:`.finishing`."""
        return await self._stages.finish(run)

    # -- triggers ----------------------------------------------------------------------------

    def classify(self, signals: TurnSignals) -> Classification:
        return classify(signals)

    async def trigger(self, request: TriggerCutsceneRequest) -> dict[str, Any]:
        """Start a cutscene (or price it, with ``dry_run``); see the module docstring."""
        return await self._started(await self._drafts.prepare_trigger(request))

    async def generate_location_visual(self, request: LocationVisualRequest) -> dict[str, Any]:
        """A still of a named location (location art); ``dry_run`` prices it."""
        return await self._started(await self._drafts.prepare_location(request))

    async def _started(self, prepared: Prepared) -> dict[str, Any]:
        if prepared.draft is not None:
            await self._start(prepared.draft)
        return prepared.answer

    async def _start(self, draft: Draft) -> CutsceneRecord:
        """Start the still's run, then record the cutscene (see :mod:`.finishing`): a start
        that fails leaves nothing behind, and a recorded cutscene always has its run."""
        still = draft.plan.still.model_dump(mode="json")
        await self._stages.start_still(draft.cutscene_id, draft.kind, still)
        return await self._record(draft)

    async def _record(self, draft: Draft) -> CutsceneRecord:
        """The cutscene and its media, announced; its still's run is started already, so the
        still is recorded (and announced) generating under that run."""
        cutscene_id, request = draft.cutscene_id, draft.request
        still_run_id = stage_run_id(cutscene_id, STILL_LABEL)
        media = [
            replace(m, status="generating", run_id=still_run_id) if m.asset_type == "image" else m
            for m in draft.media
        ]
        turn = request.turn_number
        drafts = [pending_event(draft.cutscene_type, turn, m) for m in media]
        skipped_reason = draft.plan.skipped_reason
        if skipped_reason is not None:
            drafts.append(
                EventDraft(
                    kind="skipped",
                    key=f"skipped:{cutscene_id}:clip",
                    media_id=None,
                    payload={
                        "asset_type": "video",
                        "cutscene_type": draft.cutscene_type.value,
                        "turn_number": turn,
                        "reason": skipped_reason,
                    },
                )
            )
        drafts.extend(
            pending_event(draft.cutscene_type, turn, m, "generating")
            for m in media
            if m.status == "generating"
        )
        cutscene, _ = await self._repository.create(
            cutscene_id=cutscene_id,
            kind=draft.kind,
            campaign_id=request.campaign_id,
            session_id=request.session_id,
            turn_number=request.turn_number,
            cutscene_type=draft.cutscene_type.value,
            request=draft.details,
            plan=draft.plan.to_json(),
            clip_skipped_reason=skipped_reason,
            media=media,
            events=drafts,
            still_run_id=still_run_id,
        )
        self.feed.wake(request.campaign_id, request.session_id)
        log.info(
            "cutscene.triggered",
            cutscene_id=cutscene_id,
            kind=draft.kind,
            cutscene_type=draft.cutscene_type.value,
            plan=draft.plan.name,
        )
        return cutscene

    # -- settings ----------------------------------------------------------------------------

    async def settings(self, campaign_id: str) -> MediaSettings:
        return await media_settings(self._repository, campaign_id)

    async def update_settings(self, campaign_id: str, update: MediaSettingsUpdate) -> MediaSettings:
        """``update`` applied and saved. While media is on, settings whose budgets can never
        pay for a still and its clip are refused (:func:`.costing.check_settings`); turning
        media off is always allowed."""
        current = await self.settings(campaign_id)
        changed = update.apply(current)
        if changed.enabled:
            check_settings(self._budget, changed, default_provider=self._default_provider)
        await self._repository.put_settings(campaign_id, changed.model_dump(mode="json"))
        campaign = BudgetScope("campaign", campaign_id)
        if changed.budget_per_campaign_usd is not None:
            await self._budget.set_cap(campaign, changed.budget_per_campaign_usd, "total")
        elif current.budget_per_campaign_usd is not None:
            await self._budget.remove_cap(campaign)
        log.info("cutscene.settings_changed", campaign_id=campaign_id, enabled=changed.enabled)
        return changed

    # -- reading -----------------------------------------------------------------------------

    async def done(self, cutscene_id: str) -> bool:
        """Whether the cutscene's background work is over (its media complete or failed)."""
        return (await self._repository.get(cutscene_id)).stage == "done"

    async def media(self, media_id: str) -> dict[str, Any]:
        return media_view(await self._repository.get_media(media_id), self._service_url)

    async def open_media(self, media_id: str) -> tuple[MediaRecord, AssetRecord]:
        """A finished media record and its stored file, or NotFound."""
        record = await self._repository.get_media(media_id)
        if record.status != "complete" or record.asset_id is None:
            raise NotFound(
                f"Media {media_id} has no file yet (it is {record.status}).",
                details={"id": media_id, "status": record.status},
            )
        return record, await self._assets.get(record.asset_id)

    async def media_for_turn(
        self, campaign_id: str, turn_number: int, session_id: str | None = None
    ) -> list[dict[str, Any]]:
        found = await self._repository.list_media(
            campaign_id, session_id=session_id, turn_number=turn_number, newest_first=False
        )
        return [media_view(record, self._service_url) for record in found]

    async def gallery(
        self,
        campaign_id: str,
        session_id: str | None = None,
        *,
        complete_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        found = await self._repository.list_media(
            campaign_id,
            session_id=session_id,
            status="complete" if complete_only else None,
            limit=limit,
            offset=offset,
        )
        return [media_view(record, self._service_url) for record in found]

    async def turns(self, campaign_id: str, session_id: str) -> list[dict[str, Any]]:
        """The session's cutscenes with their media, oldest first (the player's state)."""
        turns = []
        for cutscene in await self._repository.list_for_session(campaign_id, session_id):
            media = {
                m.asset_type: media_view(m, self._service_url)
                for m in await self._repository.media_of(cutscene.id)
            }
            turns.append(
                {
                    "cutscene_id": cutscene.id,
                    "kind": cutscene.kind,
                    "turn_number": cutscene.turn_number,
                    "cutscene_type": cutscene.cutscene_type,
                    "narrative": cutscene.request.get("narrative"),
                    "location_name": cutscene.request.get("location_name"),
                    "clip_skipped": cutscene.clip_skipped_reason,
                    "image": media.get("image"),
                    "video": media.get("video"),
                }
            )
        return turns

    async def cost(self, campaign_id: str, session_id: str | None = None) -> dict[str, Any]:
        """What the media cost (the spec's ``get_session_media_cost``) and the budget left."""
        spent, count = await self._repository.spent(campaign_id, session_id)
        scope = (
            BudgetScope("campaign", campaign_id)
            if session_id is None
            else BudgetScope.game_session(campaign_id, session_id)
        )
        settings = await self.settings(campaign_id)
        return {
            "campaign_id": campaign_id,
            "session_id": session_id,
            "spent_usd": usd(spent if spent else Decimal(0)),
            "media_count": count,
            "budget": (await self._budget.balance(scope)).to_json(),
            "budget_per_session_usd": usd(settings.budget_per_session_usd),
            "enabled": settings.enabled,
        }

    # -- the stream --------------------------------------------------------------------------

    def follow(
        self, campaign_id: str, session_id: str, after_id: int = 0
    ) -> AsyncIterator[MediaEventRecord]:
        """The session's announcements after ``after_id``, live (see :class:`MediaFeed`)."""
        return self.feed.follow(campaign_id, session_id, after_id)

    async def events(
        self, campaign_id: str, session_id: str, after_id: int = 0
    ) -> list[MediaEventRecord]:
        return await self.feed.after(campaign_id, session_id, after_id)

    async def last_event_id(self, campaign_id: str, session_id: str) -> int:
        return await self._repository.last_event_id(campaign_id, session_id)
