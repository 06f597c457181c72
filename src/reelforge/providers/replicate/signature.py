"""Standard Webhooks signatures, the scheme Replicate signs its callbacks with.

Headers ``webhook-id`` (the same across retries), ``webhook-timestamp`` (unix seconds) and
``webhook-signature`` (space-separated ``v1,<base64>`` entries); each entry is the base64
HMAC-SHA256 of ``"{id}.{timestamp}.{raw body}"`` keyed with the base64-decoded part of the
``whsec_`` secret. The expected signature is the ``standardwebhooks`` package's; the timestamp
window and the replay memory stay :class:`~reelforge.providers.webhook_security.WebhookGuard`'s
(its clock is injectable, the package's is not). The secret is passed in for each check and
kept nowhere.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook

from reelforge.errors import ConfigurationError
from reelforge.providers.webhook_security import WebhookGuard, header, webhook_refused

__all__ = ["StandardWebhookVerifier", "signing_key"]


def signing_key(secret: str, *, provider: str, env_var: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; a configuration error naming ``env_var`` if it is
    not one (the value is never shown)."""
    encoded = secret.strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ConfigurationError(
            f"The webhook signing secret in {env_var} is not a 'whsec_<base64>' secret.",
            details={"provider": provider, "env_var": env_var},
        )
    return key


class StandardWebhookVerifier:
    """Checks headers, timestamp window, signature and replay of Standard Webhooks callbacks."""

    def __init__(self, provider: str, guard: WebhookGuard) -> None:
        self.provider = provider
        self.guard = guard

    def headers_present(self, headers: Mapping[str, str]) -> bool:
        return all(
            header(headers, name)
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        )

    def verify(self, key: bytes, headers: Mapping[str, str], body: bytes) -> None:
        """Raise :class:`reelforge.errors.Unauthorized` unless ``body`` is authentic and new."""
        webhook_id = header(headers, "webhook-id")
        timestamp = header(headers, "webhook-timestamp")
        signatures = header(headers, "webhook-signature")
        if not (webhook_id and timestamp and signatures):
            raise webhook_refused(
                self.provider, "missing_headers", "The webhook lacks the webhook-* headers."
            )
        sent_at = self.guard.check_timestamp(timestamp)
        expected = Webhook(key).sign(webhook_id, datetime.fromtimestamp(sent_at, UTC), body)
        matched = next((entry for entry in signatures.split() if _matches(entry, expected)), None)
        if matched is None:
            raise webhook_refused(
                self.provider, "bad_signature", "The webhook's signature is invalid."
            )
        self.guard.check_not_replayed(f"{webhook_id}:{matched}")


def _matches(entry: str, expected: str) -> bool:
    return hmac.compare_digest(entry.encode(), expected.encode())
