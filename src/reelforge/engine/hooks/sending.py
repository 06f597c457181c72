"""One attempt at a delivery: the URL vetted by the ingest's guard, then one signed POST.

The guard runs before every attempt (an address may change between them) and the request goes
to the vetted address, redirects not followed, no proxy from the environment (the client is
built so). A 2xx answer delivers; anything else, or no answer, is a failed attempt whose
reason is kept short in the log: a status code, or the kind of transport error, never the
receiver's body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import httpx

from reelforge.engine.hooks.signing import HookSigner
from reelforge.engine.hooks.tables import AttemptOutcome
from reelforge.errors import FetchFailed, UrlNotAllowed
from reelforge.media.url_guard import UrlGuard

__all__ = ["AttemptResult", "HookSender", "encoded"]


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: AttemptOutcome
    status_code: int | None = None
    error: str | None = None


def encoded(body: dict[str, object]) -> bytes:
    """The body's bytes, as signed and sent (compact, keys in their order)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class HookSender:
    """Posts signed deliveries through the URL guard."""

    def __init__(
        self, http: httpx.AsyncClient, guard: UrlGuard, signer: HookSigner, *, timeout_s: float
    ) -> None:
        self._http = http
        self._guard = guard
        self._signer = signer
        self._timeout = httpx.Timeout(timeout_s)

    async def attempt(
        self, delivery_id: str, url: str, body: dict[str, object], at: datetime
    ) -> AttemptResult:
        try:
            vetted = await self._guard.vet(url)
        except UrlNotAllowed as exc:
            return AttemptResult("refused", error=str(exc.details.get("reason") or exc.code))
        except FetchFailed as exc:
            return AttemptResult("failed", error=exc.code)
        content = encoded(body)
        headers = {
            **vetted.headers,
            **self._signer.headers(delivery_id, at, content),
            "content-type": "application/json",
            "user-agent": "reelforge-webhooks",
        }
        try:
            response = await self._http.post(
                vetted.connect_url,
                content=content,
                headers=headers,
                extensions=vetted.extensions,
                timeout=self._timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            return AttemptResult("failed", error=type(exc).__name__)
        if 200 <= response.status_code < 300:
            return AttemptResult("delivered", status_code=response.status_code)
        return AttemptResult(
            "failed", status_code=response.status_code, error=f"HTTP {response.status_code}"
        )
