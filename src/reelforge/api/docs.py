"""The API documentation page and the favicon, served from installed packages so that they work
offline: FastAPI's own ``/docs`` loads Swagger UI from a CDN.

The Swagger UI bundle comes from the ``fastapi-offline`` package (only its files are used; the
page is FastAPI's own); the favicon is the package's ``web/static/favicon.ico``. There is no
ReDoc page: ReDoc fetches its logo from its CDN whatever it is given.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["DOCS_ASSETS_URL", "mount_offline_docs"]

#: Where the Swagger UI bundle is served.
DOCS_ASSETS_URL = "/docs-assets"
_FAVICON_URL = "/favicon.ico"


def mount_offline_docs(app: FastAPI, *, docs_url: str = "/docs") -> None:
    """Serve ``docs_url`` (Swagger UI) and ``/favicon.ico`` on ``app``, whose own ``docs_url``
    and ``redoc_url`` must be ``None``."""
    assets = resources.files("fastapi_offline").joinpath("static")
    favicon = resources.files("reelforge.web").joinpath("static", "favicon.ico")
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or f"{docs_url}/oauth2-redirect"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            oauth2_redirect_url=oauth2_redirect_url,
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=_FAVICON_URL,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(_FAVICON_URL, include_in_schema=False)
    async def favicon_ico() -> FileResponse:
        return FileResponse(str(favicon), media_type="image/vnd.microsoft.icon")
