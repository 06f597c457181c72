"""A cutscene's measured continuity on its media: ``media_assets.identity``.

Revision ID: 0014
Revises: 0013

A still (or a clip's poster frame) of a cutscene whose characters have reference photos is
measured against their faces when it is stored: the per-character checks, the quality score and
the warnings go into this column. Null: not measured (no referenced character, or made before
this revision).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    with op.batch_alter_table("media_assets") as batch:
        batch.add_column(sa.Column("identity", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_assets") as batch:
        batch.drop_column("identity")
