"""The catalog: what was asked, what came back and what it cost, in SQL (SQLite or PostgreSQL).

Build it with ``Catalog.from_url(url)`` after ``await upgrade_database(url)``. The repositories
are the only code that speaks SQL; they return frozen records and raise Reelforge errors.
"""

from __future__ import annotations

from reelforge.catalog.catalog import Catalog
from reelforge.catalog.db import create_engine, create_session_factory
from reelforge.catalog.migrate import current_revision, head_revision, upgrade_database
from reelforge.catalog.records import (
    AssetKind,
    AssetRecord,
    AssetSource,
    JobError,
    JobEventKind,
    JobEventRecord,
    JobRecord,
    JobStatus,
    PromptTemplateRecord,
    ProviderConfigRecord,
    RunRecord,
    RunStatus,
)
from reelforge.catalog.repositories import (
    AssetRepository,
    Clock,
    JobRepository,
    PromptTemplateRepository,
    ProviderConfigRepository,
    RunRepository,
)

__all__ = [
    "AssetKind",
    "AssetRecord",
    "AssetRepository",
    "AssetSource",
    "Catalog",
    "Clock",
    "JobError",
    "JobEventKind",
    "JobEventRecord",
    "JobRecord",
    "JobRepository",
    "JobStatus",
    "PromptTemplateRecord",
    "PromptTemplateRepository",
    "ProviderConfigRecord",
    "ProviderConfigRepository",
    "RunRecord",
    "RunRepository",
    "RunStatus",
    "create_engine",
    "create_session_factory",
    "current_revision",
    "head_revision",
    "upgrade_database",
]
