"""What the cutscenes feature takes and gives: the spec's contracts, as pydantic models.

The spec's ``trigger_cutscene`` parameters are kept as named there (``cutscene_type`` from
:class:`CutsceneType`, ``image_prompt``, ``motion_prompt``, ``characters``, ``mood``), plus the
ids an app outside one game has to give: ``campaign_id``, ``session_id``, ``turn_number``.
The media record's vocabularies (``asset_type`` image/video, ``status``
pending/generating/complete/failed) are the spec's ``MediaAsset`` columns. Media settings are the
spec's ``media_generation`` block, kept per campaign. A request's flags are JSON booleans
(``StrictBool``: ``0`` or ``"yes"`` is refused, not read as false or true).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_serializer

from reelforge.budget.records import usd
from reelforge.features.cutscenes.vocabulary import CutsceneType, NarrativeWeight, Quality

__all__ = [
    "ASSET_TYPES",
    "CUTSCENE_STAGES",
    "MEDIA_EVENT_KINDS",
    "MEDIA_STATUSES",
    "QUALITY_SIZES",
    "SESSION_BUDGET_EXHAUSTED",
    "AssetType",
    "Classification",
    "ClassifyRequest",
    "CutsceneStage",
    "CutsceneType",
    "EntityKind",
    "LocationVisualRequest",
    "MediaEventKind",
    "MediaSettings",
    "MediaSettingsUpdate",
    "MediaStatus",
    "NarrativeWeight",
    "NewEntity",
    "Quality",
    "RecordId",
    "ScopeId",
    "TriggerCutsceneRequest",
    "TurnSignals",
]

#: The spec's tool error when the session's budget cannot cover even a still.
SESSION_BUDGET_EXHAUSTED = "Session media budget exhausted"

# Campaign and session ids become budget scope ids (``game_session:<campaign>:<session>``),
# so they follow the budget's id rule.
ScopeId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"),
]
RecordId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Model = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Provider = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]


AssetType = Literal["image", "video"]
MediaStatus = Literal["pending", "generating", "complete", "failed"]
#: What the SSE stream announces; ``skipped``: a clip the budget could not cover.
MediaEventKind = Literal["pending", "generating", "ready", "failed", "skipped"]
#: Where a cutscene's background work is: the still, then the clip, then done (``queued``:
#: only on cutscenes an earlier release recorded before starting their still).
CutsceneStage = Literal["queued", "still", "clip", "done"]
EntityKind = Literal["npc", "location", "item", "faction", "creature"]

ASSET_TYPES: tuple[AssetType, ...] = get_args(AssetType)
MEDIA_STATUSES: tuple[MediaStatus, ...] = get_args(MediaStatus)
MEDIA_EVENT_KINDS: tuple[MediaEventKind, ...] = get_args(MediaEventKind)
CUTSCENE_STAGES: tuple[CutsceneStage, ...] = get_args(CutsceneStage)
#: Frame size (16:9) of stills and clips by the settings' ``quality``.
QUALITY_SIZES: dict[Quality, tuple[int, int]] = {
    "draft": (512, 288),
    "standard": (1024, 576),
    "high": (1280, 720),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewEntity(_Model):
    """An entity the turn brought into the story."""

    kind: EntityKind
    name: Name
    significant: StrictBool = True


class TurnSignals(_Model):
    """What a turn tells the classifier (the spec's trigger signals)."""

    use_sakuga: StrictBool = Field(default=False, description="A sakuga / big-action moment")
    narrative_weight: NarrativeWeight = "standard"
    new_entities: list[NewEntity] = Field(default_factory=list, max_length=50)
    emotional_milestone: Name | None = Field(default=None, description="e.g. 'first confession'")
    first_power_use: Name | None = Field(default=None, description="The power used first")
    reveal: Name | None = Field(default=None, description="A major revelation or twist")
    arc_change: Name | None = Field(default=None, description="The arc the story moves into")
    intent: Literal["combat", "dialogue", "exploration", "other"] = "other"


class Classification(_Model):
    """The classifier's proposal: a cutscene type (``none``: no cutscene) and why."""

    cutscene_type: CutsceneType
    reason: str
    motion_prompt: str | None = None


class ClassifyRequest(_Model):
    signals: TurnSignals


class TriggerCutsceneRequest(_Model):
    """The spec's ``trigger_cutscene`` parameters, plus the ids and a dry run.

    Without ``cutscene_type``, ``signals`` are classified; a type of ``none`` makes nothing."""

    campaign_id: ScopeId
    session_id: ScopeId
    turn_number: int | None = Field(default=None, ge=0, le=10_000_000)
    cutscene_type: CutsceneType | None = None
    image_prompt: Prompt
    motion_prompt: Prompt | None = None
    characters: list[Name] = Field(default_factory=list, max_length=20)
    mood: Name | None = None
    narrative: str | None = Field(
        default=None, max_length=20_000, description="The turn's text, shown by the player page"
    )
    signals: TurnSignals | None = None
    dry_run: StrictBool = False


class LocationVisualRequest(_Model):
    """``generate_location_visual``: a still of a named location."""

    campaign_id: ScopeId
    session_id: ScopeId
    location_name: Name
    description: str | None = Field(default=None, max_length=4000)
    mood: Name | None = None
    turn_number: int | None = Field(default=None, ge=0, le=10_000_000)
    dry_run: StrictBool = False


class MediaSettings(_Model):
    """The spec's ``media_generation`` settings, per campaign; off until turned on.

    ``budget_per_session_usd`` becomes the cap of each game session's budget scope (and
    ``budget_per_campaign_usd``, when set, the campaign's); None leaves caps alone."""

    enabled: bool = False
    budget_per_session_usd: Decimal | None = Field(default=Decimal("2.00"), ge=0, le=999_999)
    budget_per_campaign_usd: Decimal | None = Field(default=None, ge=0, le=999_999)
    image_provider: Provider | None = Field(default=None, description="None: the default one")
    image_model: Model | None = Field(default=None, description="None: the provider's default")
    video_provider: Provider | None = None
    video_model: Model | None = None
    clip_duration_s: float = Field(default=6.0, ge=1, le=10)
    auto_play: bool = True
    quality: Quality = "standard"

    @field_serializer("budget_per_session_usd", "budget_per_campaign_usd")
    def _money(self, value: Decimal | None) -> str | None:
        return usd(value)

    @property
    def size(self) -> tuple[int, int]:
        return QUALITY_SIZES[self.quality]


class MediaSettingsUpdate(_Model):
    """A partial update of :class:`MediaSettings` (fields left out stay as they are)."""

    enabled: StrictBool | None = None
    budget_per_session_usd: Decimal | None = Field(default=None, ge=0, le=999_999)
    budget_per_campaign_usd: Decimal | None = Field(default=None, ge=0, le=999_999)
    image_provider: Provider | None = None
    image_model: Model | None = None
    video_provider: Provider | None = None
    video_model: Model | None = None
    clip_duration_s: float | None = Field(default=None, ge=1, le=10)
    auto_play: StrictBool | None = None
    quality: Quality | None = None

    def apply(self, current: MediaSettings) -> MediaSettings:
        """``current`` with the fields this update names (an explicit null clears one)."""
        changes: dict[str, Any] = self.model_dump(exclude_unset=True)
        for required in ("enabled", "clip_duration_s", "auto_play", "quality"):
            if changes.get(required, "") is None:
                del changes[required]
        return MediaSettings.model_validate(current.model_dump() | changes)
