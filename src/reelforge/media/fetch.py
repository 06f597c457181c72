"""Guarded HTTP download into a :class:`~reelforge.media.spool.Spool`.

Every hop, the first and each redirect, is vetted by the :class:`UrlGuard` before a connection is
opened, and the connection goes to the vetted address. Redirects are followed here (never by
httpx), up to ``max_redirects``. The size cap is checked against ``Content-Length`` before the
body is read and again on every chunk. httpx's errors are translated:

- guard refusals, bad URLs: UrlNotAllowed;
- a 4xx answer (other than 408 and 429), too many redirects: FetchRejected (not retryable:
  the same URL would fail the same way; the engine still tries a paid provider output's URL
  again for a while, since one may answer 404 before it is live);
- 408, 429, 5xx, connection and protocol errors, timeouts: FetchFailed (retryable, with
  ``retry_after`` from a ``Retry-After`` header given in seconds);
- a body that ends before its ``Content-Length`` (the connection closed mid-download):
  FetchFailed with ``details.truncated`` (received and expected byte counts).

No error carries what the server sent (a protocol error's text quotes the bytes it choked on):
only the host, a status, a phase or byte counts. A :class:`FetchTrail` records every vetted hop,
so that the caller can tell whether the download reached an internal (allow-listed) address.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from reelforge.errors import FetchFailed, FetchRejected, MediaTooLarge, UrlNotAllowed
from reelforge.media.spool import Spool
from reelforge.media.url_guard import UrlGuard, VettedUrl
from reelforge.settings import IngestSettings

__all__ = ["FetchTrail", "download"]

_RETRYABLE_CLIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(slots=True)
class FetchTrail:
    """The hops a download vetted, in order; each is recorded before it is connected to."""

    hops: list[VettedUrl] = field(default_factory=list)

    @property
    def internal(self) -> VettedUrl | None:
        """The first hop that only the allow-list let through, if any."""
        return next((hop for hop in self.hops if hop.internal), None)


async def download(
    client: httpx.AsyncClient,
    guard: UrlGuard,
    url: str,
    spool: Spool,
    settings: IngestSettings,
    trail: FetchTrail | None = None,
) -> str:
    """Stream ``url`` into ``spool``; return the final URL after redirects."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=settings.read_timeout_s,
        write=settings.read_timeout_s,
        pool=settings.connect_timeout_s,
    )
    host = _host_of(url)
    try:
        async with asyncio.timeout(settings.total_timeout_s):
            hops = trail if trail is not None else FetchTrail()
            return await _follow(client, guard, url, spool, settings, timeout, hops)
    except TimeoutError as exc:
        raise FetchFailed(
            f"Downloading from {host!r} took longer than {settings.total_timeout_s:g} s.",
            details={"host": host, "timeout": "total"},
        ) from exc
    except httpx.TimeoutException as exc:
        phase = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool",
        }.get(type(exc), "network")
        raise FetchFailed(
            f"Downloading from {host!r} timed out ({phase} timeout).",
            details={"host": host, "timeout": phase},
        ) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise UrlNotAllowed("The URL cannot be fetched.", details={"host": host}) from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(
            f"Downloading from {host!r} failed: {type(exc).__name__}.",
            details={"host": host, "reason": type(exc).__name__},
        ) from exc


async def _follow(
    client: httpx.AsyncClient,
    guard: UrlGuard,
    url: str,
    spool: Spool,
    settings: IngestSettings,
    http_timeout: httpx.Timeout,
    trail: FetchTrail,
) -> str:
    current: str | httpx.URL = url
    for _hop in range(settings.max_redirects + 1):
        vetted = await guard.vet(current)
        trail.hops.append(vetted)
        headers = {**vetted.headers, "Accept-Encoding": "identity"}
        async with client.stream(
            "GET",
            vetted.connect_url,
            headers=headers,
            extensions=vetted.extensions,
            timeout=http_timeout,
            follow_redirects=False,
        ) as response:
            if response.is_redirect:
                current = vetted.url.join(response.headers["location"])
                continue
            _check_status(response, vetted.url)
            declared = _check_declared_length(response, spool.max_bytes)
            if response.headers.get("content-encoding", "identity").lower() != "identity":
                declared = None  # counts encoded bytes, not the decoded ones written
            try:
                async for chunk in response.aiter_bytes():
                    await spool.write(chunk)
            except httpx.RemoteProtocolError as exc:
                if declared is None or spool.size >= declared:
                    raise
                raise _truncated(vetted.url, spool.size, declared) from exc
            if declared is not None and spool.size < declared:
                raise _truncated(vetted.url, spool.size, declared)
            return str(vetted.url)
    raise FetchRejected(
        f"The URL redirected more than {settings.max_redirects} times.",
        details={"max_redirects": settings.max_redirects},
    )


def _host_of(url: str) -> str:
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""


def _check_status(response: httpx.Response, url: httpx.URL) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    details: dict[str, object] = {"host": url.host, "status": status}
    message = f"{url.host!r} answered HTTP {status}."
    if 400 <= status < 500 and status not in _RETRYABLE_CLIENT_STATUSES:
        raise FetchRejected(message, details=details)
    raise FetchFailed(message, details=details, retry_after=_retry_after(response))


def _truncated(url: httpx.URL, received: int, expected: int) -> FetchFailed:
    return FetchFailed(
        f"The download from {url.host!r} ended after {received} of {expected} bytes.",
        details={"host": url.host, "truncated": True, "received": received, "expected": expected},
    )


def _check_declared_length(response: httpx.Response, max_bytes: int) -> int | None:
    """The declared ``Content-Length`` (None: not given), refused when over ``max_bytes``."""
    declared = response.headers.get("content-length")
    if declared is None:
        return None
    try:
        length = int(declared)
    except ValueError as exc:
        raise FetchFailed("The server sent an invalid Content-Length.") from exc
    if length > max_bytes:
        raise MediaTooLarge(
            f"The media is {length} bytes; at most {max_bytes} are accepted.",
            details={"content_length": length, "max_bytes": max_bytes},
        )
    return length


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
