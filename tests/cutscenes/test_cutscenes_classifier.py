"""The classifier (turn signals to a cutscene type) and the feature's request models."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from reelforge.features.cutscenes.classifier import classify
from reelforge.features.cutscenes.schemas import (
    CutsceneType,
    MediaSettings,
    MediaSettingsUpdate,
    NewEntity,
    TriggerCutsceneRequest,
    TurnSignals,
)


def test_a_sakuga_moment_is_an_action_climax() -> None:
    found = classify(TurnSignals(use_sakuga=True, intent="combat", narrative_weight="significant"))
    assert found.cutscene_type is CutsceneType.ACTION_CLIMAX
    assert found.motion_prompt


def test_a_new_npc_introduced_is_a_character_intro() -> None:
    signals = TurnSignals(new_entities=[NewEntity(kind="npc", name="Captain Vell")])
    found = classify(signals)
    assert found.cutscene_type is CutsceneType.CHARACTER_INTRO
    assert "Captain Vell" in found.reason


def test_low_stakes_dialogue_makes_no_cutscene() -> None:
    found = classify(TurnSignals(intent="dialogue", narrative_weight="minor"))
    assert found.cutscene_type is CutsceneType.NONE
    assert found.motion_prompt is None


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        (TurnSignals(arc_change="The Northern War", use_sakuga=True), "arc_transition"),
        (TurnSignals(reveal="the mentor is the traitor", use_sakuga=True), "plot_twist"),
        (TurnSignals(first_power_use="Flame Step", use_sakuga=True), "power_awakening"),
        (TurnSignals(emotional_milestone="first confession"), "emotional_peak"),
        (TurnSignals(emotional_milestone="a shrug", narrative_weight="minor"), "none"),
        (
            TurnSignals(new_entities=[NewEntity(kind="location", name="Sky Forge")]),
            "location_reveal",
        ),
        (
            TurnSignals(new_entities=[NewEntity(kind="npc", name="A clerk", significant=False)]),
            "none",
        ),
        (TurnSignals(narrative_weight="climactic", intent="combat"), "action_climax"),
    ],
)
def test_the_most_specific_moment_wins(signals: TurnSignals, expected: str) -> None:
    assert classify(signals).cutscene_type.value == expected


def test_the_spec_enum_is_kept_exactly() -> None:
    assert [t.value for t in CutsceneType] == [
        "none",
        "character_intro",
        "location_reveal",
        "action_climax",
        "emotional_peak",
        "power_awakening",
        "plot_twist",
        "arc_transition",
    ]


def test_trigger_ids_must_make_budget_scopes_and_types_come_from_the_enum() -> None:
    base = {"campaign_id": "c-1", "session_id": "s.1", "image_prompt": "a duel"}
    assert TriggerCutsceneRequest.model_validate(base).cutscene_type is None
    with pytest.raises(ValidationError):
        TriggerCutsceneRequest.model_validate({**base, "campaign_id": "has:colon"})
    with pytest.raises(ValidationError):
        TriggerCutsceneRequest.model_validate({**base, "cutscene_type": "montage"})
    with pytest.raises(ValidationError):
        TriggerCutsceneRequest.model_validate({**base, "surprise": 1})


def test_media_is_off_by_default_and_updates_are_partial() -> None:
    defaults = MediaSettings()
    assert defaults.enabled is False
    assert defaults.budget_per_session_usd == Decimal("2.00")
    assert defaults.model_dump(mode="json")["budget_per_session_usd"] == "2.00"
    changed = MediaSettingsUpdate.model_validate({"enabled": True, "quality": "draft"}).apply(
        defaults
    )
    assert (changed.enabled, changed.quality, changed.size) == (True, "draft", (512, 288))
    assert changed.budget_per_session_usd == Decimal("2.00")
    cleared = MediaSettingsUpdate.model_validate({"budget_per_session_usd": None}).apply(changed)
    assert cleared.budget_per_session_usd is None
    assert cleared.enabled is True
