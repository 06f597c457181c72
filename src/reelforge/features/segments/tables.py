"""The segments feature's tables (migration ``0004``): the spec's ``videoGenJobs`` and
``videoSegments``, and the key frames each segment was made from.

- ``video_gen_jobs``: one provider generation of a segment: the engine job it ran as (lineage
  to ``jobs``), the provider's request id (the spec's ``job_id``), its status, the grouping
  decision that made the segment, and every state change, poll and webhook of the job (the
  spec's ``webhook_events[]``, copied from the engine's history when the job ends);
- ``video_segments``: the segment as the response shows it, linked to its generation job; its
  file is ``asset_id`` (stored under the spec's key) copied from ``source_asset_id`` (the
  engine's output);
- ``video_segment_frames``: its key frames in order, each with the asset it was ingested as.

They share the catalog's ``Base``; the catalog imports this feature's repository, as it does
the budget's, so migrations and the schema test see them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Double, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reelforge.catalog.models import Base, JsonDocument, new_id

__all__ = [
    "GEN_JOB_STATUSES",
    "SEGMENT_STATUSES",
    "GenJobRow",
    "SegmentFrameRow",
    "SegmentRow",
]

#: ``submitted``: with the engine; ``pending``: past the wait cap, still alive at the provider.
GEN_JOB_STATUSES = ("submitted", "pending", "completed", "failed", "canceled")
SEGMENT_STATUSES = ("pending", "ready", "failed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class GenJobRow(Base):
    """The spec's ``videoGenJobs``: one segment's generation at its provider."""

    __tablename__ = "video_gen_jobs"
    __table_args__ = (
        CheckConstraint(_one_of("status", GEN_JOB_STATUSES), name="status"),
        UniqueConstraint("run_id", "segment_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), unique=True)
    project_id: Mapped[str] = mapped_column(String(128), index=True)
    episode_id: Mapped[str] = mapped_column(String(128))
    segment_id: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(255))
    provider_request_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    grouping: Mapped[dict[str, Any]]
    webhook_events: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class SegmentRow(Base):
    """The spec's ``videoSegments``: a segment of a run, in the response's terms."""

    __tablename__ = "video_segments"
    __table_args__ = (
        CheckConstraint(_one_of("status", SEGMENT_STATUSES), name="status"),
        UniqueConstraint("run_id", "segment_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    gen_job_id: Mapped[str] = mapped_column(
        ForeignKey("video_gen_jobs.id", ondelete="CASCADE"), unique=True
    )
    project_id: Mapped[str] = mapped_column(String(128), index=True)
    episode_id: Mapped[str] = mapped_column(String(128))
    segment_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    scene_number: Mapped[int] = mapped_column(Integer)
    shot_order: Mapped[int] = mapped_column(Integer)
    associated_frames: Mapped[list[str]] = mapped_column(JsonDocument)
    status: Mapped[str] = mapped_column(String(16))
    planned_duration_s: Mapped[float] = mapped_column(Double)
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )
    source_asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )
    video_url: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float | None] = mapped_column(Double)
    provider_metadata: Mapped[dict[str, Any]]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SegmentFrameRow(Base):
    """A key frame of a segment, in order, and the asset its image was ingested as."""

    __tablename__ = "video_segment_frames"

    segment_row_id: Mapped[str] = mapped_column(
        ForeignKey("video_segments.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    frame_id: Mapped[str] = mapped_column(String(200))
    asset_id: Mapped[str | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )
    image_url: Mapped[str] = mapped_column(Text)
