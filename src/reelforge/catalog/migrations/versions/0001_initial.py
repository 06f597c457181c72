"""The catalog's first tables: assets, runs, jobs and their history, templates, provider configs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
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
        "assets",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("codec", sa.String(64), nullable=True),
        sa.Column("fps", sa.Double(), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("thumbnail_key", sa.String(1024), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("project_id", sa.String(128), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("key", name=op.f("uq_assets_key")),
        sa.CheckConstraint("kind IN ('image', 'video')", name=op.f("ck_assets_kind")),
        sa.CheckConstraint(
            "source IN ('url', 'upload', 'base64', 'provider', 'local')",
            name=op.f("ck_assets_source"),
        ),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_assets_size_bytes")),
    )
    op.create_index(op.f("ix_assets_project_id"), "assets", ["project_id"])
    op.create_index(op.f("ix_assets_created_at"), "assets", ["created_at"])

    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("feature", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("input", _json(), nullable=False),
        sa.Column("response", _json(), nullable=True),
        sa.Column("project_id", sa.String(128), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'succeeded', 'partial', 'failed', 'canceled')",
            name=op.f("ck_runs_status"),
        ),
    )
    op.create_index(op.f("ix_runs_feature"), "runs", ["feature"])
    op.create_index(op.f("ix_runs_project_id"), "runs", ["project_id"])
    op.create_index(op.f("ix_runs_created_at"), "runs", ["created_at"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("capability", sa.String(64), nullable=False),
        sa.Column("request", _json(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("template_name", sa.String(200), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("provider_request_id", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("cost_usd", sa.Numeric(12, 6), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_jobs_run_id_runs")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')",
            name=op.f("ck_jobs_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_jobs_attempts")),
    )
    op.create_index(op.f("ix_jobs_run_id"), "jobs", ["run_id"])
    op.create_index(op.f("ix_jobs_status"), "jobs", ["status"])
    op.create_index(op.f("ix_jobs_created_at"), "jobs", ["created_at"])
    op.create_index(op.f("ix_jobs_provider_request"), "jobs", ["provider", "provider_request_id"])

    op.create_table(
        "job_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("at", _timestamp(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_events")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs")),
        sa.CheckConstraint(
            "kind IN ('status', 'webhook', 'poll', 'note')", name=op.f("ck_job_events_kind")
        ),
    )
    op.create_index(op.f("ix_job_events_job_id"), "job_events", ["job_id"])

    op.create_table(
        "job_assets",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "asset_id", name=op.f("pk_job_assets")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_assets_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_job_assets_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("job_id", "position", name=op.f("uq_job_assets_job_id_position")),
    )
    op.create_index(op.f("ix_job_assets_asset_id"), "job_assets", ["asset_id"])

    op.create_table(
        "prompt_templates",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_templates")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_prompt_templates_name_version")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_prompt_templates_version")),
    )

    op.create_table(
        "provider_configs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=True),
        sa.Column("credential_env", sa.String(128), nullable=True),
        sa.Column("options", _json(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_configs")),
        sa.UniqueConstraint("provider", "name", name=op.f("uq_provider_configs_provider_name")),
    )


def downgrade() -> None:
    op.drop_table("provider_configs")
    op.drop_table("prompt_templates")
    op.drop_index(op.f("ix_job_assets_asset_id"), table_name="job_assets")
    op.drop_table("job_assets")
    op.drop_index(op.f("ix_job_events_job_id"), table_name="job_events")
    op.drop_table("job_events")
    for index in ("ix_jobs_provider_request", "ix_jobs_created_at", "ix_jobs_status"):
        op.drop_index(op.f(index), table_name="jobs")
    op.drop_index(op.f("ix_jobs_run_id"), table_name="jobs")
    op.drop_table("jobs")
    for index in ("ix_runs_created_at", "ix_runs_project_id", "ix_runs_feature"):
        op.drop_index(op.f(index), table_name="runs")
    op.drop_table("runs")
    op.drop_index(op.f("ix_assets_created_at"), table_name="assets")
    op.drop_index(op.f("ix_assets_project_id"), table_name="assets")
    op.drop_table("assets")
