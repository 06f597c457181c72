"""MCP over streamable HTTP (a real MCP client), and sign-in for pages (a real browser)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import Page

from fixtures.browser import browser, page
from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.services import open_services

__all__ = ["browser", "page"]

TOKEN = "page-token-51c9"


@pytest.fixture
async def server_url(tmp_path: Path) -> AsyncIterator[str]:
    settings = local_settings(tmp_path, auth={"enabled": True, "tokens": [TOKEN]})
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
    ):
        yield base_url


async def test_mcp_over_http_lists_and_calls_tools(server_url: str) -> None:
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    async with (
        client,
        streamable_http_client(f"{server_url}/mcp/", http_client=client) as (
            read,
            write,
            *_,
        ),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        assert init.server_info.name == "reelforge"
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert "list_providers" in tools
        result = await session.call_tool("list_providers", {})
        assert not result.is_error
        payload = result.structured_content or json.loads(result.content[0].text)  # type: ignore[union-attr]
        local = next(p for p in payload["providers"] if p["id"] == "local")
        assert local["default"] is True
        fal = next(p for p in payload["providers"] if p["id"] == "fal")
        assert fal == {**fal, "key_env": "FAL_KEY", "configured": False}


async def test_mcp_over_http_needs_the_token(server_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server_url}/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_pages_send_the_browser_to_sign_in_and_back(page: Page, server_url: str) -> None:
    await page.goto(f"{server_url}/")
    assert page.url.startswith(f"{server_url}/login")
    await page.fill("input[name=token]", "not-the-token")
    await page.click("button[type=submit]")
    assert await page.locator("[role=alert]").inner_text() == "That token is not valid."

    await page.fill("input[name=token]", TOKEN)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server_url}/")
    assert await page.locator("h1").inner_text() == "Reelforge"
    cookies = await page.context.cookies()
    session = next(c for c in cookies if c["name"] == "reelforge_token")
    assert session["httpOnly"] is True
    # The cookie also opens the JSON API for the page's own scripts.
    listed = await page.evaluate("fetch('/v1/assets').then(r => r.status)")
    assert listed == 200
