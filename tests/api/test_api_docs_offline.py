"""The API documentation works with no network: Swagger UI and the favicon come from the
installed packages, and a real browser renders the operations with every non-loopback request
refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, Route

from fixtures.browser import browser, page
from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.services import open_services

__all__ = ["browser", "page"]


@pytest.fixture
async def server_url(tmp_path: Path) -> AsyncIterator[str]:
    async with (
        open_services(local_settings(tmp_path), environ={}) as services,
        serve_app(create_app(services)) as base_url,
    ):
        yield base_url


async def cut_the_network(page: Page) -> list[str]:
    """Abort every request that leaves loopback; return the list of those refused."""
    refused: list[str] = []

    async def route(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in {"127.0.0.1", "localhost"}:
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.route("**/*", route)
    return refused


async def test_swagger_ui_renders_the_operations_offline(page: Page, server_url: str) -> None:
    refused = await cut_the_network(page)
    await page.goto(f"{server_url}/docs")
    operations = page.locator(".opblock-summary-path")
    await operations.first.wait_for(state="visible", timeout=20_000)
    paths = await operations.all_inner_texts()
    assert any(path.strip().startswith("/v1/assets") for path in paths)
    assert any("/healthz" in path for path in paths)
    assert refused == []


async def test_every_page_finds_its_favicon(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as client:
        response = await client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"
