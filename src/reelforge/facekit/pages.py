"""Server-rendered pages: one Jinja2 environment over the templates in ``reelforge/web``.

Pages are plain HTML with a little JavaScript; each feature keeps its templates in
``web/templates/<feature>/`` and renders them with :func:`render`. Live updates use server-sent
events or small JSON polls against the same REST routes an API client uses.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from reelforge import __version__

__all__ = ["mount_static", "render", "template_environment"]


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    """The page templates; autoescaped, loaded from the installed package."""
    environment = Environment(
        loader=PackageLoader("reelforge.web", "templates"),
        autoescape=select_autoescape(["html"]),
        enable_async=False,
    )
    environment.globals["reelforge_version"] = __version__
    return environment


def render(template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = template_environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


def mount_static(app: FastAPI) -> None:
    folder = resources.files("reelforge.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(folder)), name="static")
