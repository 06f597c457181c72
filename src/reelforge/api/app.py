"""The FastAPI app factory. Routes of each feature are mounted here; nothing is global."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from reelforge import __version__
from reelforge.api import assets, hooks, media, queues, runs, webhooks
from reelforge.api import metrics as metrics_routes
from reelforge.api.auth import BearerAuth, LoginRequired, PageAuth
from reelforge.api.body_limit import BodyLimit
from reelforge.api.docs import mount_offline_docs
from reelforge.api.errors import install_error_handlers
from reelforge.api.login import login_router
from reelforge.api.mcp_mount import mount_mcp
from reelforge.api.openapi import install_openapi
from reelforge.api.request_values import check_request_values
from reelforge.api.tracing import TraceRequests
from reelforge.budget import routes as budget_routes
from reelforge.facekit.pages import mount_static, render
from reelforge.features.characters import pages as character_pages
from reelforge.features.characters import routes as character_routes
from reelforge.features.cutscenes import pages as cutscene_pages
from reelforge.features.cutscenes import routes as cutscene_routes
from reelforge.features.keyframes import routes as keyframes_routes
from reelforge.features.segments import routes as segment_routes
from reelforge.features.transform import pages as transform_pages
from reelforge.features.transform import routes as transform_routes
from reelforge.features.transform import upload as transform_upload
from reelforge.services import Services
from reelforge.web import runs as run_pages

__all__ = ["HOME_LINKS", "create_app"]

#: The pages the home page lists; features add theirs.
HOME_LINKS: list[dict[str, str]] = [
    {"href": "/docs", "title": "API documentation", "note": "OpenAPI, every route"},
    {"href": "/runs", "title": "Runs", "note": "renders and their frames, live"},
    {"href": "/screenplay/characters", "title": "Characters", "note": "reference and 360° images"},
    {"href": "/cutscenes", "title": "Cutscenes", "note": "story moments as a still, then a clip"},
    {"href": "/cinematic-switch", "title": "Cinematic Switch", "note": "a photo, a new scene"},
]


def create_app(services: Services, *, close_services_on_shutdown: bool = False) -> FastAPI:
    """Build the API over ``services``. The caller owns them unless told otherwise."""
    auth = BearerAuth(services.settings.auth)
    page_auth = Depends(PageAuth(auth))
    mcp = mount_mcp(services, auth)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with mcp.lifespan():
            yield
        if close_services_on_shutdown:
            await services.aclose()

    settings = services.settings
    app = FastAPI(
        title="Reelforge",
        version=__version__,
        summary="Turns stories into pictures and motion.",
        lifespan=lifespan,
        # Served from the package instead (mount_offline_docs): FastAPI's load from a CDN.
        docs_url=None,
        redoc_url=None,
        # Every route's path, query and parsed body, checked for values nothing can keep.
        dependencies=[Depends(check_request_values)],
    )
    transform_body = transform_upload.body_limit(settings.transform)
    app.add_middleware(
        BodyLimit,
        default=settings.server.max_body_bytes,
        # The routes that take media read up to their media's limit instead.
        routes={
            "/v1/assets": assets.body_limit(settings.ingest.max_bytes),
            "/generate/cinematic": transform_body,
            "/dev/run": transform_body,
            "/mcp": transform_upload.json_limit(settings.transform),
        },
    )
    app.state.services = services
    install_error_handlers(app)
    # Outermost: the request's span and trace id cover everything, its errors' log included.
    app.add_middleware(TraceRequests, tracing=services.tracing)
    install_openapi(app)

    @app.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(exc.location, status_code=303)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    mount_static(app)
    mount_offline_docs(app)
    app.mount("/mcp", mcp.app)
    app.include_router(login_router(auth))
    app.include_router(media.router)
    app.include_router(assets.router, prefix="/v1", dependencies=[Depends(auth)])
    app.include_router(runs.router, prefix="/v1", dependencies=[Depends(auth)])
    app.include_router(queues.router, prefix="/v1", dependencies=[Depends(auth)])
    app.include_router(hooks.router, prefix="/v1", dependencies=[Depends(auth)])
    app.include_router(budget_routes.router, prefix="/v1", dependencies=[Depends(auth)])
    app.include_router(
        keyframes_routes.router(services.keyframes, wait_s=settings.keyframes.wait_s),
        prefix="/v1",
        dependencies=[Depends(auth)],
    )
    app.include_router(
        run_pages.page_router(services.catalog, services.store), dependencies=[page_auth]
    )
    app.include_router(metrics_routes.router, dependencies=[Depends(auth)])
    app.include_router(
        character_routes.router(services.characters), prefix="/v1", dependencies=[Depends(auth)]
    )
    app.include_router(character_pages.page_router(services.characters), dependencies=[page_auth])
    app.include_router(
        cutscene_routes.router(services.cutscenes, services.store),
        prefix="/api/media",
        dependencies=[Depends(auth)],
    )
    app.include_router(
        cutscene_pages.page_router(services.cutscenes, providers=list(services.providers.ids)),
        dependencies=[page_auth],
    )
    app.include_router(
        segment_routes.router(services.segments, service_url=settings.service_url),
        prefix="/v1",
        dependencies=[Depends(auth)],
    )
    app.include_router(transform_routes.router(services.transform), dependencies=[Depends(auth)])
    app.include_router(transform_pages.page_router(services.transform), dependencies=[page_auth])
    # Providers cannot send our token: each webhook is verified by its adapter instead.
    app.include_router(webhooks.router)

    @app.get("/", include_in_schema=False, dependencies=[page_auth])
    async def home() -> HTMLResponse:
        return render("home.html", links=HOME_LINKS)

    return app
