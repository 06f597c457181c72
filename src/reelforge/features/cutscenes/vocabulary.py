"""The cutscenes' closed vocabularies that the CLI's options offer as choices.

Standard library only, so that ``reelforge --help`` can describe ``reelforge cutscene``'s
options without loading pydantic and the feature's models. :mod:`.schemas` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["CutsceneType", "NarrativeWeight", "Quality"]


class CutsceneType(StrEnum):
    """The spec's enum, values unchanged."""

    NONE = "none"
    CHARACTER_INTRO = "character_intro"
    LOCATION_REVEAL = "location_reveal"
    ACTION_CLIMAX = "action_climax"
    EMOTIONAL_PEAK = "emotional_peak"
    POWER_AWAKENING = "power_awakening"
    PLOT_TWIST = "plot_twist"
    ARC_TRANSITION = "arc_transition"


Quality = Literal["draft", "standard", "high"]
NarrativeWeight = Literal["minor", "standard", "significant", "climactic"]
