"""The characters feature's tables (migration ``0005``): characters, and the spec's
``character-image-metadata``.

The image metadata follows the spec's "media for files + metadata for semantics": each row points
at one ingested asset (deleting the asset deletes the row) and says what it is (kind), who made it
(provider), from what (the exact prompt, the remote ``sourceUrl`` and ``externalId``) and how it
went (status, error, metrics). The tables share the catalog's ``Base``; the catalog imports this
feature's repository (which imports them), so migrations and the schema test see them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reelforge.catalog.models import Base, new_id
from reelforge.features.characters.schemas import IMAGE_KINDS, IMAGE_STATUSES

__all__ = ["CharacterImageRow", "CharacterRow"]


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class CharacterRow(Base):
    """A character: who they are, the visual facts prompts are built from, the library's id."""

    __tablename__ = "characters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str | None] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    visual: Mapped[dict[str, Any]]
    library_db_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class CharacterImageRow(Base):
    """The spec's ``character-image-metadata``: one ingested image of a character."""

    __tablename__ = "character_image_metadata"
    __table_args__ = (
        CheckConstraint(_one_of("kind", IMAGE_KINDS), name="kind"),
        CheckConstraint(_one_of("status", IMAGE_STATUSES), name="status"),
        Index("ix_character_image_metadata_character_created", "character_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    character_id: Mapped[str] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"))
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[str] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]]
    run_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
