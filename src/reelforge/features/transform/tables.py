"""The transform feature's tables (migration ``0007``).

- ``transforms``: one transform request that passed validation: what came in (kind, type, size,
  dimensions; the description's *length*), the choices (style, aspect ratio, outputs asked for),
  which provider and model made it, the engine runs it used, the time it took, the warnings and
  the error. Privacy: the description text is stored only when the user keeps the upload
  (``keep_upload``), and ``input_asset_id`` points at a stored upload only while
  ``input_kept`` is true (otherwise the upload was deleted after processing).
- ``transform_outputs``: each transformed file (an asset) with its variation number and its
  identity score against the input face (distance, pass or fail, or a note why there is none).

They share the catalog's ``Base``; the catalog imports this feature's repository, as it does
the budget's, so migrations and the schema test see them. They refer to core tables only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Double, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reelforge.catalog.models import Base, new_id

__all__ = ["MEDIA_KINDS", "TRANSFORM_SOURCES", "TRANSFORM_STATUSES", "OutputRow", "TransformRow"]

TRANSFORM_STATUSES = ("running", "succeeded", "partial", "failed")
TRANSFORM_SOURCES = ("generate", "dev_run", "mcp", "cli")
MEDIA_KINDS = ("image", "video")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class TransformRow(Base):
    """One transform: request metadata, outcome and timing (never the media)."""

    __tablename__ = "transforms"
    __table_args__ = (
        CheckConstraint(_one_of("status", TRANSFORM_STATUSES), name="status"),
        CheckConstraint(_one_of("source", TRANSFORM_SOURCES), name="source"),
        CheckConstraint(_one_of("media_kind", MEDIA_KINDS), name="media_kind"),
        CheckConstraint("output_count BETWEEN 1 AND 5", name="output_count"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[str | None] = mapped_column(String(128), index=True)
    media_kind: Mapped[str] = mapped_column(String(8))
    media_content_type: Mapped[str] = mapped_column(String(64))
    media_size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_width: Mapped[int | None] = mapped_column(Integer)
    media_height: Mapped[int | None] = mapped_column(Integer)
    media_duration_s: Mapped[float | None] = mapped_column(Double)
    input_asset_id: Mapped[str | None] = mapped_column(String(32))
    input_kept: Mapped[bool]
    description_chars: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    style_preset: Mapped[str | None] = mapped_column(String(32))
    aspect_ratio: Mapped[str] = mapped_column(String(16))
    output_count: Mapped[int] = mapped_column(Integer)
    variation_count: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str | None] = mapped_column(String(64))
    model_used: Mapped[str | None] = mapped_column(String(255))
    run_id: Mapped[str | None] = mapped_column(String(32), index=True)
    fallback_run_id: Mapped[str | None] = mapped_column(String(32))
    processing_time_s: Mapped[float | None] = mapped_column(Double)
    identity_threshold: Mapped[float] = mapped_column(Double)
    details: Mapped[dict[str, Any]]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class OutputRow(Base):
    """One transformed file of a transform, with its identity score."""

    __tablename__ = "transform_outputs"

    transform_id: Mapped[str] = mapped_column(
        ForeignKey("transforms.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    variation: Mapped[int] = mapped_column(Integer)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(255))
    identity_distance: Mapped[float | None] = mapped_column(Double)
    identity_passed: Mapped[bool | None]
    identity_note: Mapped[str | None] = mapped_column(String(32))
