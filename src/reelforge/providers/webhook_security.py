"""What webhook verifiers share: freshness, replays, and signing keys published as a JWKS.

A :class:`WebhookGuard` refuses a callback whose timestamp is more than ``tolerance_s`` away from
now, and a callback it has already accepted within that window (same id and signature): past
the window the timestamp check refuses it anyway, so remembering longer is not needed. The clock
is injectable; memory is bounded. Refusals are :class:`reelforge.errors.Unauthorized` with
``details.reason`` one of ``missing_headers``, ``no_keys``, ``bad_signature``,
``stale_timestamp``, ``replayed``.

An :class:`Ed25519KeySet` holds the Ed25519 keys of a JWKS (fal's scheme), fetched by the
adapter through its injected HTTP client and kept for a bounded time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reelforge.errors import ProviderError, Unauthorized

__all__ = ["Ed25519KeySet", "WebhookGuard", "header", "webhook_refused"]

_MAX_REMEMBERED = 100_000


def webhook_refused(provider: str, reason: str, message: str) -> Unauthorized:
    """The one error for a refused callback; never carries header or body values."""
    return Unauthorized(message, details={"provider": provider, "reason": reason})


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (plain dicts are not case-insensitive)."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


class WebhookGuard:
    """Timestamp window and replay memory for one provider's callbacks."""

    def __init__(
        self,
        provider: str,
        *,
        tolerance_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        max_remembered: int = _MAX_REMEMBERED,
    ) -> None:
        self.provider = provider
        self.tolerance_s = tolerance_s
        self._clock = clock
        self._max_remembered = max_remembered
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check_timestamp(self, timestamp: str | None) -> float:
        """The timestamp as unix seconds, if it is within the window of now."""
        try:
            value = float(timestamp) if timestamp is not None else None
        except ValueError:
            value = None
        if value is None:
            raise webhook_refused(
                self.provider, "missing_headers", "The webhook has no valid timestamp."
            )
        if abs(self._clock() - value) > self.tolerance_s:
            raise webhook_refused(
                self.provider,
                "stale_timestamp",
                "The webhook's timestamp is outside the accepted window.",
            )
        return value

    def check_not_replayed(self, key: str) -> None:
        """Refuse ``key`` if it was accepted within the window; otherwise remember it.

        Call it only after the signature was verified, so forgeries cannot fill the memory."""
        now = self._clock()
        self._forget_before(now - self.tolerance_s * 2)
        if key in self._seen:
            raise webhook_refused(self.provider, "replayed", "This webhook was already received.")
        self._seen[key] = now
        while len(self._seen) > self._max_remembered:
            self._seen.popitem(last=False)

    def _forget_before(self, cutoff: float) -> None:
        while self._seen:
            oldest_key, seen_at = next(iter(self._seen.items()))
            if seen_at >= cutoff:
                return
            del self._seen[oldest_key]


class Ed25519KeySet:
    """The Ed25519 keys of a JWKS, cached for ``cache_s`` seconds.

    ``fetch`` returns the JWKS document (the adapter calls its provider through the injected
    client); a document without a usable key is the provider's ``error_class``. A forced reload
    (after a signature failed, in case keys rotated) happens at most once per
    ``min_refresh_s``."""

    def __init__(
        self,
        provider: str,
        fetch: Callable[[], Awaitable[Any]],
        *,
        cache_s: float,
        min_refresh_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        error_class: type[ProviderError] = ProviderError,
    ) -> None:
        self.provider = provider
        self._error_class = error_class
        self._fetch = fetch
        self._cache_s = cache_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._keys: list[Ed25519PublicKey] = []
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return bool(self._keys)

    async def load(self, *, force: bool = False) -> bool:
        """Fetch the keys unless the cached ones are fresh enough; True when fetched."""
        async with self._lock:
            now = self._clock()
            fresh_for = self._min_refresh_s if force else self._cache_s
            if self._loaded_at is not None and now - self._loaded_at < fresh_for:
                return False
            self._keys = self._parse(await self._fetch())
            self._loaded_at = now
            return True

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether any key signed ``message``."""
        for key in self._keys:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            return True
        return False

    def _parse(self, document: Any) -> list[Ed25519PublicKey]:
        keys = document.get("keys") if isinstance(document, dict) else None
        found: list[Ed25519PublicKey] = []
        for jwk in keys if isinstance(keys, list) else []:
            if not isinstance(jwk, dict) or (jwk.get("kty"), jwk.get("crv")) != ("OKP", "Ed25519"):
                continue
            x = str(jwk.get("x", ""))
            try:
                raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
                found.append(Ed25519PublicKey.from_public_bytes(raw))
            except (ValueError, binascii.Error):
                continue
        if not found:
            raise self._error_class(
                "The provider's JWKS holds no usable Ed25519 key.", provider=self.provider
            )
        return found
