"""Webhook freshness, replay memory and JWKS key sets, on an injected clock."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from reelforge.errors import Unauthorized
from reelforge.providers.fal import FalError
from reelforge.providers.webhook_security import Ed25519KeySet, WebhookGuard, header


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reason(error: pytest.ExceptionInfo[Unauthorized]) -> str:
    value: str = error.value.details["reason"]
    return value


def test_timestamps_outside_the_window_are_refused() -> None:
    clock = Clock()
    guard = WebhookGuard("fal", tolerance_s=300, clock=clock)
    assert guard.check_timestamp(str(clock.now - 299)) == clock.now - 299
    guard.check_timestamp(str(clock.now + 299))
    for stale in (clock.now - 301, clock.now + 301):
        with pytest.raises(Unauthorized) as raised:
            guard.check_timestamp(str(stale))
        assert reason(raised) == "stale_timestamp"
    for missing in (None, "soon"):
        with pytest.raises(Unauthorized) as raised:
            guard.check_timestamp(missing)
        assert reason(raised) == "missing_headers"


def test_replays_are_refused_within_the_window_and_memory_is_bounded() -> None:
    clock = Clock()
    guard = WebhookGuard("fal", tolerance_s=10, clock=clock, max_remembered=3)
    guard.check_not_replayed("a")
    with pytest.raises(Unauthorized) as raised:
        guard.check_not_replayed("a")
    assert reason(raised) == "replayed"
    clock.now += 25
    guard.check_not_replayed("a")  # older than the window: the timestamp check refuses it
    for key in "bcd":
        guard.check_not_replayed(key)
    guard.check_not_replayed("a")  # pushed out by the bound


def test_header_lookup_ignores_case() -> None:
    assert header({"X-Fal-Webhook-Timestamp": "1"}, "x-fal-webhook-timestamp") == "1"
    assert header({}, "x") is None


def jwks(*keys: Ed25519PrivateKey) -> dict[str, Any]:
    def x(key: Ed25519PrivateKey) -> str:
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    junk = {"kty": "RSA", "n": "x"}
    return {"keys": [junk, *({"kty": "OKP", "crv": "Ed25519", "x": x(k)} for k in keys)]}


async def test_key_set_caches_and_refreshes_at_most_once_a_minute() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    published = [jwks(old)]
    fetches: list[int] = []
    clock = Clock()

    async def fetch() -> Any:
        fetches.append(1)
        return published[-1]

    keys = Ed25519KeySet("fal", fetch, cache_s=3600, clock=clock)
    assert not keys.loaded
    assert await keys.load() is True
    assert await keys.load() is False
    assert keys.verify(old.sign(b"m"), b"m")
    published.append(jwks(new))
    assert not keys.verify(new.sign(b"m"), b"m")
    assert await keys.load(force=True) is False  # fetched less than a minute ago
    clock.now += 61
    assert await keys.load(force=True) is True
    assert keys.verify(new.sign(b"m"), b"m")
    clock.now += 3600
    await keys.load()
    assert len(fetches) == 3


async def test_a_key_set_without_ed25519_keys_is_the_providers_error() -> None:
    async def fetch() -> Any:
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "!!"}]}

    with pytest.raises(FalError):
        await Ed25519KeySet("fal", fetch, cache_s=1, error_class=FalError).load()
