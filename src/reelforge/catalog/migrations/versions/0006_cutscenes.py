"""The cutscenes feature's tables: cutscenes, media assets, media events, media settings.

Revision ID: 0006
Revises: 0005

They refer to no other feature's tables (only to ``assets`` of 0001), so this revision
applies whatever 0004 and 0005 hold.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _event_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cutscenes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("campaign_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("turn_number", sa.Integer(), nullable=True),
        sa.Column("cutscene_type", sa.String(32), nullable=False),
        sa.Column("request", _json(), nullable=False),
        sa.Column("plan", _json(), nullable=False),
        sa.Column("clip_skipped_reason", sa.String(500), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("still_run_id", sa.String(32), nullable=True),
        sa.Column("clip_run_id", sa.String(32), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", _timestamp(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cutscenes")),
        sa.CheckConstraint("kind IN ('cutscene', 'location')", name=op.f("ck_cutscenes_kind")),
        sa.CheckConstraint(
            "stage IN ('queued', 'still', 'clip', 'done')", name=op.f("ck_cutscenes_stage")
        ),
    )
    op.create_index(op.f("ix_cutscenes_stage"), "cutscenes", ["stage"])
    op.create_index(op.f("ix_cutscenes_created_at"), "cutscenes", ["created_at"])
    op.create_index("ix_cutscenes_campaign_session", "cutscenes", ["campaign_id", "session_id"])

    op.create_table(
        "media_assets",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("cutscene_id", sa.String(32), nullable=False),
        sa.Column("campaign_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("turn_number", sa.Integer(), nullable=True),
        sa.Column("asset_type", sa.String(8), nullable=False),
        sa.Column("cutscene_type", sa.String(32), nullable=False),
        sa.Column("location_name", sa.String(200), nullable=True),
        sa.Column("asset_id", sa.String(32), nullable=True),
        sa.Column("image_prompt", sa.Text(), nullable=True),
        sa.Column("motion_prompt", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("cost_usd", sa.Numeric(12, 6), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.String(500), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_assets")),
        sa.ForeignKeyConstraint(
            ["cutscene_id"],
            ["cutscenes.id"],
            name=op.f("fk_media_assets_cutscene_id_cutscenes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_media_assets_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "asset_type IN ('image', 'video')", name=op.f("ck_media_assets_asset_type")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'generating', 'complete', 'failed')",
            name=op.f("ck_media_assets_status"),
        ),
    )
    op.create_index(op.f("ix_media_assets_cutscene_id"), "media_assets", ["cutscene_id"])
    op.create_index(op.f("ix_media_assets_asset_id"), "media_assets", ["asset_id"])
    op.create_index(op.f("ix_media_assets_created_at"), "media_assets", ["created_at"])
    op.create_index(
        "ix_media_assets_campaign_turn",
        "media_assets",
        ["campaign_id", "session_id", "turn_number"],
    )

    op.create_table(
        "media_events",
        sa.Column("id", _event_id(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cutscene_id", sa.String(32), nullable=False),
        sa.Column("media_id", sa.String(32), nullable=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_events")),
        sa.UniqueConstraint("key", name=op.f("uq_media_events_key")),
        sa.CheckConstraint(
            "kind IN ('pending', 'generating', 'ready', 'failed', 'skipped')",
            name=op.f("ck_media_events_kind"),
        ),
    )
    op.create_index("ix_media_events_stream", "media_events", ["campaign_id", "session_id", "id"])

    op.create_table(
        "media_settings",
        sa.Column("campaign_id", sa.String(128), nullable=False),
        sa.Column("settings", _json(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_media_settings")),
    )


def downgrade() -> None:
    op.drop_table("media_settings")
    op.drop_index("ix_media_events_stream", table_name="media_events")
    op.drop_table("media_events")
    op.drop_index("ix_media_assets_campaign_turn", table_name="media_assets")
    op.drop_index(op.f("ix_media_assets_created_at"), table_name="media_assets")
    op.drop_index(op.f("ix_media_assets_asset_id"), table_name="media_assets")
    op.drop_index(op.f("ix_media_assets_cutscene_id"), table_name="media_assets")
    op.drop_table("media_assets")
    op.drop_index("ix_cutscenes_campaign_session", table_name="cutscenes")
    op.drop_index(op.f("ix_cutscenes_created_at"), table_name="cutscenes")
    op.drop_index(op.f("ix_cutscenes_stage"), table_name="cutscenes")
    op.drop_table("cutscenes")
