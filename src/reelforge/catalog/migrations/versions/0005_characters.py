"""The characters feature's tables: characters, and the spec's ``character-image-metadata``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "characters",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(128), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("visual", _json(), nullable=False),
        sa.Column("library_db_id", sa.String(255), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_characters")),
    )
    op.create_index(op.f("ix_characters_project_id"), "characters", ["project_id"])
    op.create_index(op.f("ix_characters_created_at"), "characters", ["created_at"])

    op.create_table(
        "character_image_metadata",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("character_id", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("metrics", _json(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_character_image_metadata")),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_character_image_metadata_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_character_image_metadata_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("asset_id", name=op.f("uq_character_image_metadata_asset_id")),
        sa.CheckConstraint(
            "kind IN ('reference', 'portfolioItem', 'scene')",
            name=op.f("ck_character_image_metadata_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('succeeded', 'failed')", name=op.f("ck_character_image_metadata_status")
        ),
    )
    op.create_index(
        "ix_character_image_metadata_character_created",
        "character_image_metadata",
        ["character_id", "created_at"],
    )
    op.create_index(
        op.f("ix_character_image_metadata_run_id"), "character_image_metadata", ["run_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_character_image_metadata_run_id"), table_name="character_image_metadata")
    op.drop_index(
        "ix_character_image_metadata_character_created", table_name="character_image_metadata"
    )
    op.drop_table("character_image_metadata")
    op.drop_index(op.f("ix_characters_created_at"), table_name="characters")
    op.drop_index(op.f("ix_characters_project_id"), table_name="characters")
    op.drop_table("characters")
