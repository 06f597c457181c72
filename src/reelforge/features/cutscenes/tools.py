"""The MCP tools of the cutscenes feature (the spec's ProductionAgent tools).

- ``trigger_cutscene``: the spec's parameters (``cutscene_type``, ``image_prompt``,
  ``motion_prompt``, ``characters``, ``mood``) plus ``campaign_id``, ``session_id`` and
  ``turn_number``. Answers at once with the media ids and ``media_pending: true``; when the
  session's budget cannot cover even a still it answers the spec's
  ``{"error": "Session media budget exhausted", "budget": <cap>}`` (plus the ``scope``).
- ``generate_location_visual``: a still of a named location, the same way.
- ``classify_turn``: turn signals to a cutscene type (or ``none``), for agents that want a
  second opinion.

Arguments are validated by the same models as REST; other errors come back as the envelope.
"""

# No ``from __future__ import annotations``: the MCP SDK reads these signatures at runtime.

from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from reelforge.errors import BudgetExhausted
from reelforge.features.cutscenes.schemas import (
    SESSION_BUDGET_EXHAUSTED,
    ClassifyRequest,
    CutsceneType,
    LocationVisualRequest,
    TriggerCutsceneRequest,
)
from reelforge.features.cutscenes.service import CutsceneService, parse_model
from reelforge.tool_errors import tool_errors

__all__ = ["register"]

M = TypeVar("M", bound=BaseModel)

TRIGGER = (
    "Generate a cutscene for a story moment, in the background: a still image from "
    "image_prompt, then a short clip animating it per motion_prompt. Returns at once with the "
    "media asset ids and media_pending: true; the player is told over /api/media/sse when each "
    "is ready. cutscene_type is one of character_intro, location_reveal, action_climax, "
    "emotional_peak, power_awakening, plot_twist, arc_transition (none: nothing is made). If "
    "the session's media budget cannot cover even the still, returns {error, budget}. "
    "dry_run: true returns the plan and its cost only."
)
LOCATION = (
    "Generate a still image of a named location (location art) in the background. Returns "
    "the media asset id with media_pending: true. dry_run: true returns the cost only."
)


def _parse(model: type[M], data: dict[str, Any]) -> M:
    return parse_model(model, {k: v for k, v in data.items() if v is not None})


def _refusal(exc: BudgetExhausted) -> dict[str, Any]:
    return {
        "error": SESSION_BUDGET_EXHAUSTED,
        "budget": exc.details.get("budget"),
        "scope": exc.details.get("scope"),
    }


def register(server: MCPServer, service: CutsceneService) -> None:
    """Add the cutscenes tools, over ``service``, to ``server``."""

    @server.tool(name="trigger_cutscene", description=TRIGGER)
    @tool_errors
    async def trigger_cutscene(
        campaign_id: Annotated[str, Field(description="The campaign (story) id")],
        session_id: Annotated[str, Field(description="The play session id")],
        cutscene_type: Annotated[CutsceneType, Field(description="The kind of moment")],
        image_prompt: Annotated[str, Field(description="What the still shows")],
        motion_prompt: Annotated[str | None, Field(description="How the clip moves")] = None,
        characters: Annotated[list[str] | None, Field(description="Who is in it")] = None,
        mood: Annotated[str | None, Field(description="The mood / lighting")] = None,
        turn_number: Annotated[int | None, Field(description="The turn that triggered it")] = None,
        dry_run: Annotated[bool, Field(description="Plan and estimate only")] = False,
    ) -> dict[str, Any]:
        request = _parse(
            TriggerCutsceneRequest,
            {
                "campaign_id": campaign_id,
                "session_id": session_id,
                "turn_number": turn_number,
                "cutscene_type": cutscene_type,
                "image_prompt": image_prompt,
                "motion_prompt": motion_prompt,
                "characters": characters,
                "mood": mood,
                "dry_run": dry_run,
            },
        )
        try:
            return await service.trigger(request)
        except BudgetExhausted as exc:
            if exc.message != SESSION_BUDGET_EXHAUSTED:
                raise
            return _refusal(exc)

    @server.tool(name="generate_location_visual", description=LOCATION)
    @tool_errors
    async def generate_location_visual(
        campaign_id: Annotated[str, Field(description="The campaign (story) id")],
        session_id: Annotated[str, Field(description="The play session id")],
        location_name: Annotated[str, Field(description="The location's name")],
        description: Annotated[str | None, Field(description="What it looks like")] = None,
        mood: Annotated[str | None, Field(description="The mood / lighting")] = None,
        turn_number: Annotated[int | None, Field(description="The turn it was reached")] = None,
        dry_run: Annotated[bool, Field(description="Plan and estimate only")] = False,
    ) -> dict[str, Any]:
        request = _parse(
            LocationVisualRequest,
            {
                "campaign_id": campaign_id,
                "session_id": session_id,
                "location_name": location_name,
                "description": description,
                "mood": mood,
                "turn_number": turn_number,
                "dry_run": dry_run,
            },
        )
        try:
            return await service.generate_location_visual(request)
        except BudgetExhausted as exc:
            if exc.message != SESSION_BUDGET_EXHAUSTED:
                raise
            return _refusal(exc)

    @server.tool(
        name="classify_turn",
        description="Propose a cutscene type (or none) from a turn's signals: use_sakuga, "
        "narrative_weight, new_entities, emotional_milestone, first_power_use, reveal, "
        "arc_change, intent.",
    )
    @tool_errors
    async def classify_turn(signals: dict[str, Any]) -> dict[str, Any]:
        request = _parse(ClassifyRequest, {"signals": signals})
        return service.classify(request.signals).model_dump(mode="json")
