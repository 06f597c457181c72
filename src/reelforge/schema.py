"""Every table of Reelforge, for the migrations' autogenerate and the schema checks.

The catalog declares the core's tables and names nothing above it; the budget and each feature
declare theirs beside their own code, on the catalog's ``Base``. This module is the one list of
those modules, kept beside the composition root: :func:`metadata` is the complete schema, to
hand to :func:`reelforge.catalog.migrate.alembic_config`. Running the migrations needs none of
it (each revision says what it creates).
"""

from __future__ import annotations

from sqlalchemy import MetaData

import reelforge.budget.tables
import reelforge.engine.hooks.tables
import reelforge.engine.queue_tables
import reelforge.features.characters.repository
import reelforge.features.cutscenes.tables
import reelforge.features.segments.tables
import reelforge.features.transform.tables  # noqa: F401
from reelforge.catalog.models import Base

__all__ = ["metadata"]


def metadata() -> MetaData:
    """The catalog's tables, the budget's and every feature's."""
    return Base.metadata
