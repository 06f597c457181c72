"""What a cutscene request becomes before anything runs: the plan its budgets afford, the media
records it will have, and what the trigger answers.

:meth:`CutsceneDrafts.prepare` classifies a trigger (or takes its ``cutscene_type``), checks
the campaign's media settings (off until turned on) and that this process can start runs,
applies the settings' budget caps, and picks the best plan the budgets afford
(:mod:`.planning`): a :class:`Prepared` answer, with the :class:`Draft` of the cutscene to
start and record (none for a dry run, or a turn that gets no cutscene). The service starts the
draft's still and records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reelforge.budget.records import usd
from reelforge.budget.scopes import BudgetScope, scopes_for
from reelforge.budget.service import BudgetService
from reelforge.catalog.models import new_id
from reelforge.engine.service import EngineService
from reelforge.engine.specs import JobSpec
from reelforge.errors import ConfigurationError, Conflict, InvalidInput
from reelforge.features.cutscenes import planning
from reelforge.features.cutscenes.casting import StillCast, cast_of
from reelforge.features.cutscenes.classifier import classify, motion_prompt_for
from reelforge.features.cutscenes.repository import CutsceneRepository, MediaDraft
from reelforge.features.cutscenes.schemas import (
    CutsceneType,
    LocationVisualRequest,
    MediaSettings,
    TriggerCutsceneRequest,
)
from reelforge.providers.base import Capability
from reelforge.providers.registry import ProviderRegistry
from reelforge.references import CharacterReferences, ReferenceResolver

__all__ = ["CutsceneDrafts", "CutsceneRequest", "Draft", "Prepared", "media_settings"]

CutsceneRequest = TriggerCutsceneRequest | LocationVisualRequest


@dataclass(frozen=True, slots=True)
class Draft:
    """A cutscene to record: what :meth:`CutsceneRepository.create` takes."""

    cutscene_id: str
    kind: str
    request: CutsceneRequest
    cutscene_type: CutsceneType
    details: dict[str, Any]
    plan: planning.CutscenePlan
    media: list[MediaDraft]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A trigger's answer, and the cutscene to record and start (None: a dry run or a turn
    without a cutscene)."""

    answer: dict[str, Any]
    draft: Draft | None = None


class CutsceneDrafts:
    """Requests turned into the cutscenes to start; see the module docstring."""

    def __init__(
        self,
        repository: CutsceneRepository,
        *,
        budget: BudgetService,
        engine: EngineService,
        default_provider: str,
        providers: ProviderRegistry,
        characters: CharacterReferences,
        references: ReferenceResolver,
    ) -> None:
        self._repository = repository
        self._budget = budget
        self._engine = engine
        self._default_provider = default_provider
        self._providers = providers
        self._characters = characters
        self._references = references

    async def prepare(self, request: CutsceneRequest) -> Prepared:
        if isinstance(request, LocationVisualRequest):
            return await self.prepare_location(request)
        return await self.prepare_trigger(request)

    async def prepare_trigger(self, request: TriggerCutsceneRequest) -> Prepared:
        cutscene_type, reason = self._cutscene_type(request)
        ids = {
            "campaign_id": request.campaign_id,
            "session_id": request.session_id,
            "turn_number": request.turn_number,
        }
        if cutscene_type is CutsceneType.NONE:
            answer: dict[str, Any] = {
                **ids,
                "cutscene_type": "none",
                "reason": reason,
                "media_pending": False,
                "asset_ids": [],
            }
            return Prepared(answer)
        settings = await media_settings(self._repository, request.campaign_id)
        scopes = scopes_for(campaign_id=request.campaign_id, session_id=request.session_id)
        motion = request.motion_prompt or motion_prompt_for(cutscene_type)
        cast, reference_model = await self._cast(settings, request.characters)
        still = planning.still_spec(
            settings,
            default_provider=self._default_provider,
            prompt=planning.still_prompt(request.image_prompt, request.mood, cast.names),
            scene=planning.scene_brief(
                cutscene_type.value, request.image_prompt, motion, request, cast.scene_characters()
            ),
            scopes=scopes,
            references=cast.reference_asset_ids,
            reference_model=reference_model,
        )
        clip = planning.clip_spec(
            settings, default_provider=self._default_provider, motion_prompt=motion, scopes=scopes
        )
        if request.dry_run:
            answer = await planning.dry_run(self._budget, scopes, still, clip)
            answer["cast"] = cast.to_json()
            return Prepared({**answer, **ids, "cutscene_type": cutscene_type.value})
        plan = await self._choose(settings, request.campaign_id, request.session_id, still, clip)
        image = MediaDraft(new_id(), "image", request.image_prompt, None)
        media = [image]
        if plan.clip is not None:
            media.append(
                MediaDraft(
                    new_id(),
                    "video",
                    request.image_prompt,
                    motion,
                    duration_seconds=settings.clip_duration_s,
                )
            )
        details = {
            "characters": request.characters,
            "cast": cast.to_json(),
            "mood": request.mood,
            "narrative": request.narrative,
            "reason": reason,
        }
        draft = Draft(new_id(), "cutscene", request, cutscene_type, details, plan, media)
        answer = {
            **ids,
            **_created(draft),
            "cutscene_type": cutscene_type.value,
            "image_asset_id": image.id,
            "video_asset_id": media[1].id if len(media) > 1 else None,
        }
        return Prepared(answer, draft)

    async def prepare_location(self, request: LocationVisualRequest) -> Prepared:
        settings = await media_settings(self._repository, request.campaign_id)
        scopes = scopes_for(campaign_id=request.campaign_id, session_id=request.session_id)
        description = request.description or "an establishing shot"
        prompt = f"{request.location_name}: {description}"
        still = planning.still_spec(
            settings,
            default_provider=self._default_provider,
            prompt=planning.still_prompt(prompt, request.mood, []),
            scene=planning.scene_brief("LOCATION", prompt, "slow pull back", request),
            scopes=scopes,
        )
        ids = {
            "campaign_id": request.campaign_id,
            "session_id": request.session_id,
            "turn_number": request.turn_number,
            "location_name": request.location_name,
        }
        if request.dry_run:
            return Prepared({**await planning.dry_run(self._budget, scopes, still, None), **ids})
        plan = await self._choose(settings, request.campaign_id, request.session_id, still, None)
        image = MediaDraft(new_id(), "image", prompt, None, location_name=request.location_name)
        details = {"location_name": request.location_name, "mood": request.mood}
        draft = Draft(
            new_id(), "location", request, CutsceneType.LOCATION_REVEAL, details, plan, [image]
        )
        return Prepared({**ids, **_created(draft), "asset_id": image.id}, draft)

    async def _cast(
        self, settings: MediaSettings, characters: list[str]
    ) -> tuple[StillCast, str | None]:
        """The still's cast and its references, and the model a still carrying them goes to."""
        name = settings.image_provider or self._default_provider
        provider = self._providers.get(self._providers.resolve(name, Capability.TEXT_TO_IMAGE).id)
        limit = provider.reference_limit(Capability.TEXT_TO_IMAGE)
        cast = await cast_of(characters, self._characters, self._references, limit)
        model = provider.resolve_model(settings.image_model)
        return cast, provider.model_for_references(model, Capability.TEXT_TO_IMAGE)

    def _cutscene_type(self, request: TriggerCutsceneRequest) -> tuple[CutsceneType, str | None]:
        if request.cutscene_type is not None:
            return request.cutscene_type, None
        if request.signals is None:
            raise InvalidInput(
                "Give a cutscene_type, or the turn's signals to classify.",
                details={"field": "cutscene_type"},
            )
        found = classify(request.signals)
        return found.cutscene_type, found.reason

    async def _choose(
        self,
        settings: MediaSettings,
        campaign_id: str,
        session_id: str,
        still: JobSpec,
        clip: JobSpec | None,
    ) -> planning.CutscenePlan:
        if not settings.enabled:
            raise Conflict(
                f"Media generation is off for campaign {campaign_id}: turn it on in the "
                "media settings (PUT /api/media/settings) first.",
                details={"campaign_id": campaign_id, "enabled": False},
            )
        if not self._engine.engine.launched:
            # A client engine (the CLI beside a server) can cancel work but start none.
            raise ConfigurationError(
                "The job engine is not running in this process (reelforge serve starts it)."
            )
        await planning.apply_caps(self._budget, settings, campaign_id, session_id)
        scopes = [BudgetScope.parse(key) for key in still.budget_scopes]
        return await planning.choose(self._budget, scopes, still, clip)


async def media_settings(repository: CutsceneRepository, campaign_id: str) -> MediaSettings:
    """The campaign's media settings (the defaults until it saved some)."""
    stored = await repository.get_settings(campaign_id)
    return MediaSettings() if stored is None else MediaSettings.model_validate(stored)


def _created(draft: Draft) -> dict[str, Any]:
    """What a trigger answers of the cutscene it starts."""
    return {
        "cutscene_id": draft.cutscene_id,
        "media_pending": True,
        "asset_ids": [media.id for media in draft.media],
        "plan": draft.plan.name,
        "clip_skipped": draft.plan.skipped_reason,
        "estimated_cost_usd": usd(draft.plan.estimate.total_usd),
    }
