"""What the public URL tests share: the public URL, finding the URLs in an answer or a page,
and fetching what a public URL names from the loopback server that serves it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["PUBLIC", "check_public", "page_urls", "payload", "served", "urls"]

PUBLIC = "https://studio.example.test"
_ATTRIBUTE_URL = re.compile(r'(?:src|href|poster|action)="([^"]+)"')


def urls(value: Any, key: str = "", *, echoed: frozenset[str] = frozenset()) -> Iterator[str]:
    """Every URL in a JSON answer: strings with a scheme, and the values of URL-named keys
    (``echoed``: keys whose values are the caller's own input, sent back as given)."""
    if isinstance(value, dict):
        for name, item in value.items():
            if str(name) not in echoed:
                yield from urls(item, str(name), echoed=echoed)
    elif isinstance(value, list):
        for item in value:
            yield from urls(item, key, echoed=echoed)
    elif isinstance(value, str) and ("://" in value or key.lower().endswith("url")):
        yield value


def check_public(answer: Any, *, echoed: frozenset[str] = frozenset()) -> list[str]:
    """The URLs of ``answer`` (at least one), each under the public URL."""
    found = list(urls(answer, echoed=echoed))
    assert found, answer
    for url in found:
        assert url.startswith(PUBLIC + "/"), (url, answer)
    return found


def page_urls(html: str) -> list[str]:
    """The ``src``, ``href``, ``poster`` and ``action`` values of a server-rendered page."""
    return _ATTRIBUTE_URL.findall(html)


async def served(http: httpx.AsyncClient, base_url: str, url: str) -> bytes:
    """The bytes behind a public URL, asked of the loopback server by the URL's path."""
    parts = urlsplit(url)
    local = f"{base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    response = await http.get(local)
    assert response.status_code == 200, (url, response.status_code)
    return response.content


def payload(result: Any) -> dict[str, Any]:
    """An MCP tool result's JSON."""
    if result.structured_content is not None:
        return dict(result.structured_content)
    return dict(json.loads(result.content[0].text))
