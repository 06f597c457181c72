"""From a turn's signals to a cutscene type, for apps without an agent to decide.

The spec's ProductionAgent reads ``use_sakuga``, ``outcome.narrative_weight``, new entities and
emotional milestones; :func:`classify` does the same deterministically. The most specific
moment wins: an arc change over a reveal over a first power use over a sakuga fight over an
emotional beat over a new character over a new place. A low-stakes turn (``minor`` weight, no
signal) makes no cutscene: cutscenes are meant for about one turn in five.
"""

from __future__ import annotations

from reelforge.features.cutscenes.schemas import Classification, CutsceneType, TurnSignals

__all__ = ["DEFAULT_MOTION", "classify", "motion_prompt_for"]

#: A camera move per type, used when the caller gives no motion prompt (the local studio reads
#: the move from these words; hosted video models read them as direction).
DEFAULT_MOTION: dict[CutsceneType, str] = {
    CutsceneType.CHARACTER_INTRO: "slow push-in on the character, hair and cloth stirring",
    CutsceneType.LOCATION_REVEAL: "slow pull back to reveal the whole place",
    CutsceneType.ACTION_CLIMAX: "fast push-in on the impact, speed lines, debris flying",
    CutsceneType.EMOTIONAL_PEAK: "gentle push-in, soft light flickering",
    CutsceneType.POWER_AWAKENING: "tilt up as energy rises around the figure",
    CutsceneType.PLOT_TWIST: "dolly zoom on the revelation",
    CutsceneType.ARC_TRANSITION: "slow pan right across the horizon",
}


def motion_prompt_for(cutscene_type: CutsceneType) -> str:
    return DEFAULT_MOTION.get(cutscene_type, "gentle push-in")


def classify(signals: TurnSignals) -> Classification:
    """The cutscene a turn deserves (``none`` when it deserves none), with the reason."""
    cutscene_type, reason = _decide(signals)
    motion = None if cutscene_type is CutsceneType.NONE else motion_prompt_for(cutscene_type)
    return Classification(cutscene_type=cutscene_type, reason=reason, motion_prompt=motion)


def _decide(signals: TurnSignals) -> tuple[CutsceneType, str]:
    if signals.arc_change:
        return CutsceneType.ARC_TRANSITION, f"the story moves into {signals.arc_change}"
    if signals.reveal:
        return CutsceneType.PLOT_TWIST, f"a revelation: {signals.reveal}"
    if signals.first_power_use:
        return CutsceneType.POWER_AWAKENING, f"first use of {signals.first_power_use}"
    if signals.use_sakuga:
        return CutsceneType.ACTION_CLIMAX, "a sakuga moment"
    if signals.emotional_milestone and signals.narrative_weight != "minor":
        return CutsceneType.EMOTIONAL_PEAK, f"an emotional milestone: {signals.emotional_milestone}"
    significant = [entity for entity in signals.new_entities if entity.significant]
    npc = next((entity for entity in significant if entity.kind in ("npc", "creature")), None)
    if npc is not None:
        return CutsceneType.CHARACTER_INTRO, f"{npc.name} is introduced"
    place = next((entity for entity in significant if entity.kind == "location"), None)
    if place is not None:
        return CutsceneType.LOCATION_REVEAL, f"arrival at {place.name}"
    if signals.narrative_weight == "climactic":
        if signals.intent == "combat":
            return CutsceneType.ACTION_CLIMAX, "a climactic fight"
        return CutsceneType.EMOTIONAL_PEAK, "a climactic turn"
    return CutsceneType.NONE, "nothing cinematic happened this turn"
