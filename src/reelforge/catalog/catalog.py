"""The catalog as one object: an engine and the repositories built on it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine

from reelforge.catalog.closing import GracefulClose
from reelforge.catalog.db import create_engine, create_session_factory
from reelforge.catalog.repositories import (
    AssetRepository,
    Clock,
    JobRepository,
    JobStatusObserver,
    PromptTemplateRepository,
    ProviderConfigRepository,
    RunEventRepository,
    RunRepository,
    WebhookEventRepository,
    WorkerRepository,
    utc_now,
)

__all__ = ["Catalog"]


class Catalog:
    """What was asked, what came back and what it cost: the SQL side of Reelforge.

    Owns its engine; call :meth:`dispose` (or use ``async with``) when done: sessions still open
    get ``close_grace_s`` to finish, and the closed catalog refuses new ones. Building a catalog
    does not migrate: run :func:`reelforge.catalog.migrate.upgrade_database` first. It holds
    the core's repositories; a feature builds its own on it (``Repository.on(catalog)``).
    ``job_observer`` hears of every committed change of a job's status (the metrics).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock = utc_now,
        close_grace_s: float = 5.0,
        job_observer: JobStatusObserver | None = None,
    ) -> None:
        self.engine = engine
        self._closing = GracefulClose(engine, grace_s=close_grace_s)
        self.clock = clock
        self.sessions = sessions = create_session_factory(engine)
        self.assets = AssetRepository(sessions, clock=clock)
        self.runs = RunRepository(sessions, clock=clock)
        self.jobs = JobRepository(sessions, clock=clock, observer=job_observer)
        self.templates = PromptTemplateRepository(sessions, clock=clock)
        self.provider_configs = ProviderConfigRepository(sessions, clock=clock)
        self.run_events = RunEventRepository(sessions, clock=clock)
        self.webhook_events = WebhookEventRepository(sessions, clock=clock)
        self.workers = WorkerRepository(sessions, clock=clock)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        clock: Clock = utc_now,
        close_grace_s: float = 5.0,
        pool_size: int = 10,
        pool_timeout_s: float = 10.0,
        job_observer: JobStatusObserver | None = None,
    ) -> Catalog:
        """``pool_size`` connections, taken in turn; a transaction that waits past
        ``pool_timeout_s`` for one fails as ``CatalogBusy``."""
        engine = create_engine(url, pool_size=pool_size, pool_timeout_s=pool_timeout_s)
        return cls(engine, clock=clock, close_grace_s=close_grace_s, job_observer=job_observer)

    async def dispose(self) -> None:
        await self._closing.close()

    async def __aenter__(self) -> Catalog:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.dispose()
