"""The composition root: every long-lived object is built here, from settings, and nowhere else.

``build_services(settings)`` wires the catalog, the media store, safe ingest, the provider
registry, the budget (prices, caps, reservations) and the shared HTTP client. Faces (API, CLI,
MCP) receive the resulting :class:`Services` and never build clients themselves.

The job engine is started only where asked for (``open_services(..., engine="api")`` in
``reelforge serve``, ``"worker"`` in ``reelforge worker``, ``"client"`` for the CLI's ``jobs``
commands), or later with :func:`open_engine`: a command that only reads or ingests must not
start one, since the embedded engine allows one process per data directory.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property

import httpx

from reelforge.api.metrics import Metrics
from reelforge.assets import AssetService
from reelforge.budget.prices import PriceTable
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.migrate import upgrade_database
from reelforge.engine.config import EngineRole
from reelforge.engine.runtime import DEFAULT_INSTANCE, Engine
from reelforge.engine.service import EngineService
from reelforge.features.cutscenes.service import CutsceneService
from reelforge.features.segments.service import SegmentService
from reelforge.media.ingest import Ingestor
from reelforge.media.store import MediaStore, build_media_store
from reelforge.prompts.library import PromptLibrary
from reelforge.providers.base import ProviderDeps
from reelforge.providers.registry import PROVIDER_CLASSES, ProviderClasses, ProviderRegistry
from reelforge.settings import Settings

__all__ = ["Services", "build_services", "open_engine", "open_services"]


@dataclass
class Services:
    settings: Settings
    http: httpx.AsyncClient
    ingest_http: httpx.AsyncClient
    catalog: Catalog
    store: MediaStore
    ingestor: Ingestor
    assets: AssetService
    providers: ProviderRegistry
    budget: BudgetService
    prompts: PromptLibrary
    metrics: Metrics
    engine: EngineService | None = None

    @cached_property
    def cutscenes(self) -> CutsceneService:
        """Cutscenes, shared by every face: built on first use (its workflows run here)."""
        return CutsceneService(
            catalog=self.catalog,
            assets=self.assets,
            budget=self.budget,
            default_provider=self.settings.default_provider,
            engine=lambda: self.engine,
            events_poll_s=self.settings.engine.events_poll_s,
        )

    @cached_property
    def segments(self) -> SegmentService:
        """Motion segments, shared by every face: built on first use (it follows the runs
        whose segments are still pending)."""
        return SegmentService(
            settings=self.settings.segments,
            public_base_url=self.settings.public_base_url,
            catalog=self.catalog,
            store=self.store,
            assets=self.assets,
            providers=self.providers,
            budget=self.budget,
            prompts=self.prompts,
            engine=lambda: self.engine,
            max_media_bytes=self.settings.ingest.max_bytes,
        )

    async def aclose(self) -> None:
        if "cutscenes" in self.__dict__:
            await self.cutscenes.aclose()
        if "segments" in self.__dict__:
            await self.segments.aclose()
        if self.engine is not None:
            await self.engine.engine.stop()
            self.engine = None
        await self.providers.aclose()
        await self.http.aclose()
        await self.ingest_http.aclose()
        await self.catalog.dispose()


def build_services(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    provider_classes: ProviderClasses = PROVIDER_CLASSES,
) -> Services:
    """Wire everything from ``settings``. ``environ`` defaults to the process environment;
    ``provider_classes`` is the provider registry's map (the built-in providers)."""
    environ = os.environ if environ is None else environ
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=10.0), headers={"User-Agent": "reelforge"}
    )
    # Ingest gets its own client: no proxy from the environment and no default headers, since
    # it fetches whatever URL it is given; it follows redirects itself, vetting every hop.
    ingest_http = httpx.AsyncClient(
        trust_env=False, follow_redirects=False, headers={"User-Agent": "reelforge-ingest"}
    )
    catalog = Catalog.from_url(settings.effective_database_url)
    store = build_media_store(settings)
    settings.ingest_temp_dir.mkdir(parents=True, exist_ok=True)
    ingestor = Ingestor(store, settings.ingest, ingest_http, temp_dir=settings.ingest_temp_dir)
    providers = ProviderRegistry(
        settings, ProviderDeps(http=http, environ=environ), provider_classes
    )
    return Services(
        settings=settings,
        http=http,
        ingest_http=ingest_http,
        catalog=catalog,
        store=store,
        ingestor=ingestor,
        assets=AssetService(catalog, store, ingestor),
        providers=providers,
        budget=BudgetService(catalog.budget, PriceTable(providers, settings.budget)),
        prompts=PromptLibrary(catalog.templates, templates_dir=settings.prompts.templates_dir),
        metrics=Metrics(),
    )


async def open_engine(
    services: Services, role: EngineRole, *, instance_name: str = DEFAULT_INSTANCE
) -> EngineService:
    """Start the job engine over ``services`` (stopped by ``services.aclose()``).

    ``instance_name`` names the workflow instance in DBOS: every process sharing a system
    database must use the same (the default); only an in-process test needs another."""
    if services.engine is not None:
        return services.engine
    engine = Engine(services, role, instance_name=instance_name)
    await engine.start()
    services.engine = EngineService(engine, services.catalog, services.providers)
    if role != "client":
        # Carry on with cutscenes that a stopped process left half done.
        services.cutscenes.director.ensure_sweeping()
    return services.engine


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    migrate: bool = True,
    environ: Mapping[str, str] | None = None,
    engine: EngineRole | None = None,
    provider_classes: ProviderClasses = PROVIDER_CLASSES,
) -> AsyncIterator[Services]:
    """Services with the database migrated to the newest schema, closed on exit; with the
    job engine started in ``engine``'s role when given."""
    if migrate:
        await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ=environ, provider_classes=provider_classes)
    try:
        if engine is not None:
            await open_engine(services, engine)
        yield services
    finally:
        await services.aclose()
