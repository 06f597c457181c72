"""The cutscenes feature's tables and their rows as records (migrations ``0006``, ``0014``).

- ``cutscenes``: one trigger (a cutscene or a location visual): what was asked, the chosen
  plan, its stage and the engine runs of its still and clip;
- ``media_assets``: the spec's ``MediaAsset`` record, one per still or clip (campaign, turn,
  image/video, cutscene type, prompts, duration, cost, pending/generating/complete/failed)
  and its measured continuity (``identity``, :mod:`.identity`);
- ``media_events``: what the SSE stream announces, kept so any process can replay it;
- ``media_settings``: the spec's ``media_generation`` settings, per campaign.

They share the catalog's ``Base`` (the catalog imports this module, as it does the budget's
tables, so the migrations and the schema test see them) and depend on no other feature's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CheckConstraint, Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reelforge.catalog.models import Base, EventId, Money, new_id
from reelforge.features.cutscenes.schemas import (
    ASSET_TYPES,
    CUTSCENE_STAGES,
    MEDIA_EVENT_KINDS,
    MEDIA_STATUSES,
    AssetType,
    CutsceneStage,
    MediaEventKind,
    MediaStatus,
)

__all__ = [
    "CUTSCENE_KINDS",
    "UNSET",
    "CutsceneRecord",
    "CutsceneRow",
    "EventDraft",
    "MediaAssetRow",
    "MediaDraft",
    "MediaEventRecord",
    "MediaEventRow",
    "MediaRecord",
    "MediaSettingsRow",
    "MediaUpdate",
    "cutscene_record",
    "event_record",
    "media_record",
]

CUTSCENE_KINDS = ("cutscene", "location")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class CutsceneRow(Base):
    """One trigger and the state of its background work."""

    __tablename__ = "cutscenes"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CUTSCENE_KINDS), name="kind"),
        CheckConstraint(_one_of("stage", CUTSCENE_STAGES), name="stage"),
        Index("ix_cutscenes_campaign_session", "campaign_id", "session_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(128))
    turn_number: Mapped[int | None] = mapped_column(Integer)
    cutscene_type: Mapped[str] = mapped_column(String(32))
    request: Mapped[dict[str, Any]]
    plan: Mapped[dict[str, Any]]
    clip_skipped_reason: Mapped[str | None] = mapped_column(String(500))
    stage: Mapped[str] = mapped_column(String(16), index=True)
    still_run_id: Mapped[str | None] = mapped_column(String(32))
    clip_run_id: Mapped[str | None] = mapped_column(String(32))
    # The lease of the per-process driver that made cutscenes before their stages became
    # engine runs: no longer written or read, kept until a migration drops the columns.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class MediaAssetRow(Base):
    """The spec's media asset: one still or clip of a campaign's turn."""

    __tablename__ = "media_assets"
    __table_args__ = (
        CheckConstraint(_one_of("asset_type", ASSET_TYPES), name="asset_type"),
        CheckConstraint(_one_of("status", MEDIA_STATUSES), name="status"),
        Index("ix_media_assets_campaign_turn", "campaign_id", "session_id", "turn_number"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    cutscene_id: Mapped[str] = mapped_column(
        ForeignKey("cutscenes.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(128))
    turn_number: Mapped[int | None] = mapped_column(Integer)
    asset_type: Mapped[str] = mapped_column(String(8))
    cutscene_type: Mapped[str] = mapped_column(String(32))
    location_name: Mapped[str | None] = mapped_column(String(200))
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )
    image_prompt: Mapped[str | None] = mapped_column(Text)
    motion_prompt: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Double)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    run_id: Mapped[str | None] = mapped_column(String(32))
    # The faces measured against the characters' references (null: not measured).
    identity: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class MediaEventRow(Base):
    """One announcement of the SSE stream of a campaign's session, read by growing id."""

    __tablename__ = "media_events"
    __table_args__ = (
        CheckConstraint(_one_of("kind", MEDIA_EVENT_KINDS), name="kind"),
        Index("ix_media_events_stream", "campaign_id", "session_id", "id"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    cutscene_id: Mapped[str] = mapped_column(String(32))
    media_id: Mapped[str | None] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]]


class MediaSettingsRow(Base):
    """A campaign's media settings (a missing row means the defaults: media off)."""

    __tablename__ = "media_settings"

    campaign_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    settings: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class CutsceneRecord:
    """A cutscene (or location visual) and which stage its background work is at."""

    id: str
    kind: str
    campaign_id: str
    session_id: str
    turn_number: int | None
    cutscene_type: str
    request: dict[str, Any]
    plan: dict[str, Any]
    clip_skipped_reason: str | None
    stage: CutsceneStage
    still_run_id: str | None
    clip_run_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """The spec's media asset record."""

    id: str
    cutscene_id: str
    campaign_id: str
    session_id: str
    turn_number: int | None
    asset_type: AssetType
    cutscene_type: str
    location_name: str | None
    asset_id: str | None
    image_prompt: str | None
    motion_prompt: str | None
    duration_seconds: float | None
    cost_usd: Decimal | None
    status: MediaStatus
    error_code: str | None
    error_message: str | None
    run_id: str | None
    created_at: datetime
    updated_at: datetime
    #: The measured continuity (checks, quality score, warnings); None: not measured.
    identity: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class MediaEventRecord:
    id: int
    campaign_id: str
    session_id: str
    at: datetime
    kind: MediaEventKind
    cutscene_id: str
    media_id: str | None
    payload: dict[str, Any]


UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class MediaDraft:
    """A media record to create with its cutscene (its id fixed by the caller); ``status``
    ``generating`` with the ``run_id`` of the run already started to make it."""

    id: str
    asset_type: AssetType
    image_prompt: str | None
    motion_prompt: str | None
    duration_seconds: float | None = None
    location_name: str | None = None
    status: MediaStatus = "pending"
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An announcement to append; ``key`` makes appending it twice append it once."""

    kind: MediaEventKind
    key: str
    media_id: str | None
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MediaUpdate:
    """What changes on a media record (fields left unset stay as they are)."""

    status: MediaStatus
    asset_id: str | None = UNSET
    cost_usd: Decimal | None = UNSET
    duration_seconds: float | None = UNSET
    run_id: str | None = UNSET
    error_code: str | None = UNSET
    error_message: str | None = UNSET
    identity: dict[str, Any] | None = UNSET

    def changes(self) -> dict[str, Any]:
        names = ("asset_id", "cost_usd", "duration_seconds", "run_id", "error_code", "identity")
        found = {name: getattr(self, name) for name in names if getattr(self, name) is not UNSET}
        if self.error_message is not UNSET:
            found["error_message"] = (
                None if self.error_message is None else self.error_message[:500]
            )
        return found | {"status": self.status}


def cutscene_record(row: CutsceneRow) -> CutsceneRecord:
    return CutsceneRecord(
        id=row.id,
        kind=row.kind,
        campaign_id=row.campaign_id,
        session_id=row.session_id,
        turn_number=row.turn_number,
        cutscene_type=row.cutscene_type,
        request=row.request,
        plan=row.plan,
        clip_skipped_reason=row.clip_skipped_reason,
        stage=cast(CutsceneStage, row.stage),
        still_run_id=row.still_run_id,
        clip_run_id=row.clip_run_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def media_record(row: MediaAssetRow) -> MediaRecord:
    return MediaRecord(
        id=row.id,
        cutscene_id=row.cutscene_id,
        campaign_id=row.campaign_id,
        session_id=row.session_id,
        turn_number=row.turn_number,
        asset_type=cast(AssetType, row.asset_type),
        cutscene_type=row.cutscene_type,
        location_name=row.location_name,
        asset_id=row.asset_id,
        image_prompt=row.image_prompt,
        motion_prompt=row.motion_prompt,
        duration_seconds=row.duration_seconds,
        cost_usd=row.cost_usd,
        status=cast(MediaStatus, row.status),
        error_code=row.error_code,
        error_message=row.error_message,
        run_id=row.run_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        identity=row.identity,
    )


def event_record(row: MediaEventRow) -> MediaEventRecord:
    return MediaEventRecord(
        id=row.id,
        campaign_id=row.campaign_id,
        session_id=row.session_id,
        at=row.at,
        kind=cast(MediaEventKind, row.kind),
        cutscene_id=row.cutscene_id,
        media_id=row.media_id,
        payload=row.payload,
    )
