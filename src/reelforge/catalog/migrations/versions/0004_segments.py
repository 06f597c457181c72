"""The segments feature's tables: the spec's ``videoGenJobs`` and ``videoSegments``, and each
segment's key frames (models in ``reelforge.features.segments.tables``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(32), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "video_gen_jobs",
        _id("id"),
        _id("run_id"),
        _id("job_id"),
        sa.Column("project_id", sa.String(128), nullable=False),
        sa.Column("episode_id", sa.String(128), nullable=False),
        sa.Column("segment_id", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("provider_request_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("grouping", _json(), nullable=False),
        sa.Column("webhook_events", _json(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("completed_at", _timestamp(), nullable=True),
        sa.CheckConstraint(
            "status IN ('submitted', 'pending', 'completed', 'failed', 'canceled')",
            name=op.f("ck_video_gen_jobs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_video_gen_jobs_job_id_jobs")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_video_gen_jobs_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_gen_jobs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_video_gen_jobs_job_id")),
        sa.UniqueConstraint(
            "run_id", "segment_id", name=op.f("uq_video_gen_jobs_run_id_segment_id")
        ),
    )
    op.create_index(op.f("ix_video_gen_jobs_project_id"), "video_gen_jobs", ["project_id"])

    op.create_table(
        "video_segments",
        _id("id"),
        _id("run_id"),
        _id("gen_job_id"),
        sa.Column("project_id", sa.String(128), nullable=False),
        sa.Column("episode_id", sa.String(128), nullable=False),
        sa.Column("segment_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("scene_number", sa.Integer(), nullable=False),
        sa.Column("shot_order", sa.Integer(), nullable=False),
        sa.Column("associated_frames", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("planned_duration_s", sa.Double(), nullable=False),
        _id("asset_id", nullable=True),
        _id("source_asset_id", nullable=True),
        sa.Column("video_url", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("provider_metadata", _json(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'ready', 'failed')", name=op.f("ck_video_segments_status")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_video_segments_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["gen_job_id"],
            ["video_gen_jobs.id"],
            name=op.f("fk_video_segments_gen_job_id_video_gen_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_video_segments_run_id_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source_asset_id"],
            ["assets.id"],
            name=op.f("fk_video_segments_source_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_segments")),
        sa.UniqueConstraint("gen_job_id", name=op.f("uq_video_segments_gen_job_id")),
        sa.UniqueConstraint(
            "run_id", "segment_id", name=op.f("uq_video_segments_run_id_segment_id")
        ),
    )
    for column in ("asset_id", "project_id", "run_id", "source_asset_id"):
        op.create_index(op.f(f"ix_video_segments_{column}"), "video_segments", [column])

    op.create_table(
        "video_segment_frames",
        _id("segment_row_id"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("frame_id", sa.String(200), nullable=False),
        _id("asset_id", nullable=True),
        sa.Column("image_url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_video_segment_frames_asset_id_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["segment_row_id"],
            ["video_segments.id"],
            name=op.f("fk_video_segment_frames_segment_row_id_video_segments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_row_id", "position", name=op.f("pk_video_segment_frames")),
    )
    op.create_index(op.f("ix_video_segment_frames_asset_id"), "video_segment_frames", ["asset_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_video_segment_frames_asset_id"), table_name="video_segment_frames")
    op.drop_table("video_segment_frames")
    for column in ("source_asset_id", "run_id", "project_id", "asset_id"):
        op.drop_index(op.f(f"ix_video_segments_{column}"), table_name="video_segments")
    op.drop_table("video_segments")
    op.drop_index(op.f("ix_video_gen_jobs_project_id"), table_name="video_gen_jobs")
    op.drop_table("video_gen_jobs")
