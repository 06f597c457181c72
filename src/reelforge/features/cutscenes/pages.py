"""The cutscenes pages: the player, the session's gallery, the campaign's media settings.

- ``/cutscenes?campaign_id=&session_id=``: a session's turns, each with its narrative and its
  cutscene: "Cutscene rendering…" while pending, then the still, then the clip inline (muted
  autoplay, an unmute button, full screen). A form plays a new turn through
  ``POST /api/media/cutscenes``; updates arrive over ``/api/media/sse`` without a reload.
- ``/cutscenes/gallery``: every still and clip of the session.
- ``/cutscenes/settings?campaign_id=``: media on/off, budgets, providers and models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from reelforge.facekit.pages import render
from reelforge.features.cutscenes.schemas import CutsceneType
from reelforge.features.cutscenes.service import CutsceneService

__all__ = ["page_router"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
Campaign = Annotated[str, Query(pattern=_ID)]
Session = Annotated[str, Query(pattern=_ID)]


def page_router(service: CutsceneService, *, providers: Sequence[str]) -> APIRouter:
    """The cutscenes pages over ``service``; ``providers``: the ids the settings page offers."""
    pages = APIRouter(include_in_schema=False)

    @pages.get("/cutscenes")
    async def player(
        campaign_id: Campaign = "demo-campaign",
        session_id: Session = "session-1",
    ) -> HTMLResponse:
        # The stream resumes after the last announcement the rendered state already covers.
        last_event_id = await service.last_event_id(campaign_id, session_id)
        turns = await service.turns(campaign_id, session_id)
        numbers = [turn["turn_number"] for turn in turns if turn["turn_number"] is not None]
        return render(
            "cutscenes/player.html",
            campaign_id=campaign_id,
            session_id=session_id,
            turns=turns,
            next_turn=max(numbers, default=0) + 1,
            last_event_id=last_event_id,
            settings=(await service.settings(campaign_id)).model_dump(mode="json"),
            cutscene_types=[t.value for t in CutsceneType if t is not CutsceneType.NONE],
        )

    @pages.get("/cutscenes/gallery")
    async def gallery(
        campaign_id: Campaign = "demo-campaign",
        session_id: Session = "session-1",
    ) -> HTMLResponse:
        media = await service.gallery(campaign_id, session_id, limit=200)
        return render(
            "cutscenes/gallery.html",
            campaign_id=campaign_id,
            session_id=session_id,
            media=media,
            cost=await service.cost(campaign_id, session_id),
        )

    @pages.get("/cutscenes/settings")
    async def settings(campaign_id: Campaign = "demo-campaign") -> HTMLResponse:
        current = await service.settings(campaign_id)
        return render(
            "cutscenes/settings.html",
            campaign_id=campaign_id,
            settings=current.model_dump(mode="json"),
            providers=list(providers),
        )

    return pages
