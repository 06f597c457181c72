"""The composition root: every long-lived object is built here, from settings, and nowhere else.

``build_services(settings)`` wires the catalog, the media store, safe ingest, the provider
registry, the budget (prices, caps, reservations) and the shared HTTP client. Faces (API, CLI,
MCP) receive the resulting :class:`Services` and never build clients themselves.

Then the job engine (built, not started), and after it the features, each built once with its
collaborators passed to its constructor and listed in the engine's :class:`FeatureDirectory`,
so the engine finishes their runs. Nothing below this module receives :class:`Services`.

The engine is started only where asked for (``open_services(..., engine="api")`` in
``reelforge serve``, ``"worker"`` in ``reelforge worker``, ``"client"`` for the CLI's ``jobs``
commands), or later with :func:`open_engine`: a command that only reads or ingests must not
start one, since the embedded engine allows one process per data directory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reelforge.assets import AssetService
from reelforge.budget.prices import PriceTable
from reelforge.budget.repository import BudgetRepository
from reelforge.budget.service import BudgetService
from reelforge.catalog import Catalog
from reelforge.catalog.migrate import upgrade_database
from reelforge.engine.config import EngineRole
from reelforge.engine.faults import FaultPoints
from reelforge.engine.feature_runs import FeatureRuns
from reelforge.engine.features import FeatureDirectory, RunFeature
from reelforge.engine.hooks.events import HOOK_EVENT_TYPES
from reelforge.engine.hooks.sending import HookSender
from reelforge.engine.hooks.service import HookService
from reelforge.engine.hooks.signing import HookSigner
from reelforge.engine.hooks.tables import ATTEMPT_OUTCOMES
from reelforge.engine.job_metrics import JobStatusMetrics
from reelforge.engine.reaper import Recovery
from reelforge.engine.run_tracing import JobObservers, JobSpans
from reelforge.engine.runtime import DEFAULT_INSTANCE, Engine
from reelforge.engine.service import EngineService
from reelforge.features.characters.prompting import build_suggester
from reelforge.features.characters.service import CharacterService
from reelforge.features.cutscenes.service import CutsceneService
from reelforge.features.keyframes.service import KeyframesService
from reelforge.features.segments.service import SegmentService
from reelforge.features.transform.service import TransformService
from reelforge.media.content_tags import ContentTags, asset_sha256
from reelforge.media.heap import map_large_buffers
from reelforge.media.ingest import Ingestor
from reelforge.media.store import MediaStore, build_media_store
from reelforge.media.url_guard import UrlGuard
from reelforge.metrics import Metrics
from reelforge.prompts.library import PromptLibrary
from reelforge.providers.base import ProviderDeps
from reelforge.providers.http import TracedTransport
from reelforge.providers.registry import PROVIDER_CLASSES, ProviderClasses, ProviderRegistry
from reelforge.settings import Settings
from reelforge.tracing import Tracing

__all__ = [
    "FeatureFactory",
    "Services",
    "build_services",
    "open_engine",
    "open_services",
]

#: Builds a feature of the caller's own from the built services: a plug-in point of the
#: composition root itself (see ``extra_features``), so only it sees the whole bag.
FeatureFactory = Callable[["Services"], RunFeature[Any]]


@dataclass
class Services:
    settings: Settings
    http: httpx.AsyncClient
    ingest_http: httpx.AsyncClient
    catalog: Catalog
    store: MediaStore
    content_tags: ContentTags
    ingestor: Ingestor
    assets: AssetService
    providers: ProviderRegistry
    budget: BudgetService
    prompts: PromptLibrary
    metrics: Metrics
    tracing: Tracing
    engine: EngineService
    features: FeatureDirectory
    runs: FeatureRuns
    hooks: HookService
    keyframes: KeyframesService
    segments: SegmentService
    cutscenes: CutsceneService
    characters: CharacterService
    transform: TransformService

    async def aclose(self) -> None:
        if self.engine.started:
            await self.engine.engine.stop()
        await self.providers.aclose()
        await self.http.aclose()
        await self.ingest_http.aclose()
        await self.catalog.dispose()
        # Off the loop: the last spans are sent now, and their receiver may be on this loop.
        await asyncio.to_thread(self.tracing.shutdown)


def build_services(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    extra_features: Sequence[FeatureFactory] = (),
    provider_classes: ProviderClasses = PROVIDER_CLASSES,
    tracing: Tracing | None = None,
) -> Services:
    """Wire everything from ``settings``. ``environ`` defaults to the process environment;
    ``extra_features`` adds features of the caller's own; ``provider_classes`` is the provider
    registry's map (the built-in providers, or more: one line adds one); ``tracing``: where
    spans go (default: ``settings.tracing``, else the standard ``OTEL_*`` variables)."""
    environ = os.environ if environ is None else environ
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Decoded pixels (media probes) must not stay in the C heap's per-thread arenas.
    map_large_buffers()
    if tracing is None:
        tracing = Tracing.build(
            endpoint=settings.tracing.otlp_endpoint,
            service_name=settings.tracing.service_name,
            environ=environ,
        )
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=10.0),
        headers={"User-Agent": "reelforge"},
        # Each provider call a span, only where spans go somewhere.
        transport=TracedTransport(httpx.AsyncHTTPTransport(), tracing)
        if tracing.exporting
        else None,
    )
    # Ingest gets its own client: no proxy from the environment and no default headers, since
    # it fetches whatever URL it is given; it follows redirects itself, vetting every hop.
    ingest_http = httpx.AsyncClient(
        trust_env=False, follow_redirects=False, headers={"User-Agent": "reelforge-ingest"}
    )
    metrics = Metrics()
    metrics.hooks_out.start_at_zero(HOOK_EVENT_TYPES, ATTEMPT_OUTCOMES)
    catalog = Catalog.from_url(
        settings.effective_database_url,
        pool_size=settings.catalog.pool_size,
        pool_timeout_s=settings.catalog.pool_timeout_s,
        job_observer=JobObservers(JobStatusMetrics(metrics.jobs), JobSpans(tracing)),
    )
    store = build_media_store(settings)
    settings.ingest_temp_dir.mkdir(parents=True, exist_ok=True)
    ingestor = Ingestor(
        store, settings.ingest, ingest_http, temp_dir=settings.ingest_temp_dir, tracing=tracing
    )
    deps = ProviderDeps(http=http, environ=environ, state_dir=settings.data_dir / "providers")
    providers = ProviderRegistry(settings, deps, provider_classes)
    assets = AssetService(catalog, store, ingestor)
    budget = BudgetService(
        BudgetRepository.on(catalog),
        PriceTable(providers, settings.budget),
        metrics=metrics.budget,
    )
    prompts = PromptLibrary(catalog.templates, templates_dir=settings.prompts.templates_dir)
    features = FeatureDirectory()
    # Outgoing webhooks go through ingest's client and URL guard: no proxy, no redirects.
    hook_guard = UrlGuard(settings.ingest.allowed_hosts)
    hook_sender = HookSender(
        ingest_http,
        hook_guard,
        HookSigner(settings.engine.hooks.secret_env, environ),
        timeout_s=settings.engine.hooks.timeout_s,
    )
    engine = EngineService(
        Engine(
            settings.engine,
            system_database_url=settings.engine.resolved_system_database_url(
                settings.data_dir, settings.effective_database_url
            ),
            catalog=catalog,
            assets=assets,
            store=store,
            providers=providers,
            budget=budget,
            features=features,
            webhook_base_url=settings.webhook_base_url,
            tracing=tracing,
            hook_sender=hook_sender,
            hook_observer=metrics.hooks_out.attempted,
        ),
        catalog,
        providers,
        faults=FaultPoints.from_environ(environ),
    )
    budget.on_refused = engine.engine.hook_dispatch.budget_refused
    hooks = HookService(engine.engine.hooks, hook_guard, engine.engine.hook_dispatch.redeliver)
    # Built before key frames: they read the workspace characters' reference images.
    characters = CharacterService(
        settings=settings.characters,
        catalog=catalog,
        assets=assets,
        providers=providers,
        budget=budget,
        engine=engine,
        suggester=build_suggester(settings.characters, http, environ),
    )
    keyframes = KeyframesService(
        settings=settings.keyframes,
        providers=providers,
        budget=budget,
        prompts=prompts,
        catalog=catalog,
        store=store,
        assets=assets,
        metrics=metrics.image_generation,
        engine=engine,
        characters=characters,
        service_url=settings.service_url,
        face_models_dir=_face_models_dir(settings),
    )
    features.add(keyframes)
    segments = SegmentService(
        settings=settings.segments,
        public_base_url=settings.public_base_url,
        catalog=catalog,
        store=store,
        assets=assets,
        providers=providers,
        budget=budget,
        prompts=prompts,
        engine=engine,
        max_media_bytes=settings.ingest.max_bytes,
        characters=characters,
        face_models_dir=_face_models_dir(settings),
    )
    features.add(segments)
    cutscenes = CutsceneService(
        catalog=catalog,
        assets=assets,
        budget=budget,
        engine=engine,
        default_provider=settings.default_provider,
        providers=providers,
        characters=characters,
        store=store,
        settings=settings.cutscenes,
        service_url=settings.service_url,
        face_models_dir=_face_models_dir(settings),
        events_poll_s=settings.engine.events_poll_s,
    )
    features.add(cutscenes)
    features.add(characters)
    face_models_dir = settings.provider_section("local").get("face_models_dir")
    transform = TransformService(
        settings=settings.transform,
        catalog=catalog,
        store=store,
        assets=assets,
        providers=providers,
        budget=budget,
        engine=engine,
        ingest=settings.ingest,
        ingest_http=ingest_http,
        temp_dir=settings.ingest_temp_dir,
        face_models_dir=Path(str(face_models_dir)) if face_models_dir else None,
        characters=characters,
    )
    features.add(transform)
    services = Services(
        settings=settings,
        http=http,
        ingest_http=ingest_http,
        catalog=catalog,
        store=store,
        content_tags=ContentTags(store, asset_sha256(catalog)),
        ingestor=ingestor,
        assets=assets,
        providers=providers,
        budget=budget,
        prompts=prompts,
        metrics=metrics,
        tracing=tracing,
        engine=engine,
        features=features,
        runs=FeatureRuns(engine, features, service_url=settings.service_url, hooks=hooks),
        hooks=hooks,
        keyframes=keyframes,
        segments=segments,
        cutscenes=cutscenes,
        characters=characters,
        transform=transform,
    )
    for extra in extra_features:
        features.add(extra(services))
    return services


async def open_engine(
    services: Services,
    role: EngineRole,
    *,
    instance_name: str = DEFAULT_INSTANCE,
    recovery: Recovery | None = None,
) -> EngineService:
    """Start the job engine of ``services`` (stopped by ``services.aclose()``).

    ``instance_name`` names the workflow instance in DBOS: every process sharing a system
    database must use the same (the default); only an in-process test needs another.
    ``recovery``: how the reaper takes over a dead executor's work (DBOS's own by default)."""
    if services.engine.started:
        return services.engine
    await services.engine.engine.start(role, instance_name=instance_name, recovery=recovery)
    return services.engine


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    migrate: bool = True,
    environ: Mapping[str, str] | None = None,
    engine: EngineRole | None = None,
    extra_features: Sequence[FeatureFactory] = (),
    provider_classes: ProviderClasses = PROVIDER_CLASSES,
    tracing: Tracing | None = None,
) -> AsyncIterator[Services]:
    """Services with the database migrated to the newest schema, closed on exit; with the
    job engine started in ``engine``'s role when given."""
    if migrate:
        await upgrade_database(settings.effective_database_url)
    services = build_services(
        settings,
        environ=environ,
        extra_features=extra_features,
        provider_classes=provider_classes,
        tracing=tracing,
    )
    try:
        if engine is not None:
            await open_engine(services, engine)
        yield services
    finally:
        await services.aclose()


def _face_models_dir(settings: Settings) -> Path | None:
    folder = settings.provider_section("local").get("face_models_dir")
    return Path(str(folder)) if folder else None
