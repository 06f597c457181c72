"""The transform feature's tables: transforms and their outputs with identity scores.

Revision ID: 0007
Revises: 0006

They refer to core tables only (``assets``), never to the other features' tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
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
        "transforms",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("project_id", sa.String(128), nullable=True),
        sa.Column("media_kind", sa.String(8), nullable=False),
        sa.Column("media_content_type", sa.String(64), nullable=False),
        sa.Column("media_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_width", sa.Integer(), nullable=True),
        sa.Column("media_height", sa.Integer(), nullable=True),
        sa.Column("media_duration_s", sa.Double(), nullable=True),
        sa.Column("input_asset_id", sa.String(32), nullable=True),
        sa.Column("input_kept", sa.Boolean(), nullable=False),
        sa.Column("description_chars", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("style_preset", sa.String(32), nullable=True),
        sa.Column("aspect_ratio", sa.String(16), nullable=False),
        sa.Column("output_count", sa.Integer(), nullable=False),
        sa.Column("variation_count", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("model_used", sa.String(255), nullable=True),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("fallback_run_id", sa.String(32), nullable=True),
        sa.Column("processing_time_s", sa.Double(), nullable=True),
        sa.Column("identity_threshold", sa.Double(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transforms")),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'partial', 'failed')",
            name=op.f("ck_transforms_status"),
        ),
        sa.CheckConstraint(
            "source IN ('generate', 'dev_run', 'mcp', 'cli')", name=op.f("ck_transforms_source")
        ),
        sa.CheckConstraint(
            "media_kind IN ('image', 'video')", name=op.f("ck_transforms_media_kind")
        ),
        sa.CheckConstraint("output_count BETWEEN 1 AND 5", name=op.f("ck_transforms_output_count")),
    )
    op.create_index(op.f("ix_transforms_status"), "transforms", ["status"])
    op.create_index(op.f("ix_transforms_project_id"), "transforms", ["project_id"])
    op.create_index(op.f("ix_transforms_run_id"), "transforms", ["run_id"])
    op.create_index(op.f("ix_transforms_created_at"), "transforms", ["created_at"])

    op.create_table(
        "transform_outputs",
        sa.Column("transform_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("variation", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.String(32), nullable=False),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("identity_distance", sa.Double(), nullable=True),
        sa.Column("identity_passed", sa.Boolean(), nullable=True),
        sa.Column("identity_note", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["transform_id"],
            ["transforms.id"],
            name=op.f("fk_transform_outputs_transform_id_transforms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_transform_outputs_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transform_id", "position", name=op.f("pk_transform_outputs")),
    )
    op.create_index(op.f("ix_transform_outputs_asset_id"), "transform_outputs", ["asset_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_transform_outputs_asset_id"), table_name="transform_outputs")
    op.drop_table("transform_outputs")
    op.drop_index(op.f("ix_transforms_created_at"), table_name="transforms")
    op.drop_index(op.f("ix_transforms_run_id"), table_name="transforms")
    op.drop_index(op.f("ix_transforms_project_id"), table_name="transforms")
    op.drop_index(op.f("ix_transforms_status"), table_name="transforms")
    op.drop_table("transforms")
