"""The catalog's repositories: the only code in Reelforge that speaks SQL."""

from __future__ import annotations

from reelforge.catalog.repositories._base import Clock, Repository, translate_error, utc_now
from reelforge.catalog.repositories.assets import AssetRepository
from reelforge.catalog.repositories.engine import (
    NewRunEvent,
    RunEventRepository,
    WebhookEventRepository,
    WorkerRepository,
)
from reelforge.catalog.repositories.jobs import JobRepository, JobStatusObserver, NewJob
from reelforge.catalog.repositories.provider_configs import ProviderConfigRepository
from reelforge.catalog.repositories.runs import RunRepository
from reelforge.catalog.repositories.templates import PromptTemplateRepository

__all__ = [
    "AssetRepository",
    "Clock",
    "JobRepository",
    "JobStatusObserver",
    "NewJob",
    "NewRunEvent",
    "PromptTemplateRepository",
    "ProviderConfigRepository",
    "Repository",
    "RunEventRepository",
    "RunRepository",
    "WebhookEventRepository",
    "WorkerRepository",
    "translate_error",
    "utc_now",
]
