"""How the emulator signs the callbacks it sends.

A :class:`WebhookSigner` turns (event id, timestamp, raw body) into the headers a provider puts
on its callback. Each scheme also makes a *forger*: the same scheme with a key the receiver does
not trust, which is how the ``bad_signature`` fault is produced.

- fal: ED25519 over ``request_id \\n user_id \\n timestamp \\n hex(sha256(body))``, the signature
  hex-encoded in ``X-Fal-Webhook-Signature``; the public keys are published as a JWKS
  (:meth:`FalWebhookSigner.jwks`).
- Standard Webhooks (Replicate's ``whsec_`` secrets): ``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, keyed with the
  base64-decoded part of the secret after ``whsec_`` (:class:`StandardWebhookSigner`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from abc import ABC, abstractmethod
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "FalWebhookSigner",
    "StandardWebhookSigner",
    "WebhookSigner",
    "fal_signed_message",
    "standard_webhook_signature",
]


class WebhookSigner(ABC):
    """One provider's webhook signature scheme, holding the emulator's signing key."""

    @abstractmethod
    def headers(self, *, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """The headers that authenticate ``body`` as sent at ``timestamp`` (unix seconds)."""

    @abstractmethod
    def forger(self) -> WebhookSigner:
        """The same scheme with a key nobody trusts (for the ``bad_signature`` fault)."""


def fal_signed_message(request_id: str, user_id: str, timestamp: int, body: bytes) -> bytes:
    """The bytes fal signs for a webhook."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()


class FalWebhookSigner(WebhookSigner):
    """fal's ED25519 webhook signatures, with the public key served as a JWKS."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        *,
        user_id: str = "emulator-user",
        key_id: str = "emulator-1",
    ) -> None:
        self._private_key = private_key
        self.user_id = user_id
        self.key_id = key_id

    @classmethod
    def generate(cls, *, user_id: str = "emulator-user") -> FalWebhookSigner:
        return cls(Ed25519PrivateKey.generate(), user_id=user_id)

    def headers(self, *, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        message = fal_signed_message(event_id, self.user_id, timestamp, body)
        return {
            "X-Fal-Webhook-Request-Id": event_id,
            "X-Fal-Webhook-User-Id": self.user_id,
            "X-Fal-Webhook-Timestamp": str(timestamp),
            "X-Fal-Webhook-Signature": self._private_key.sign(message).hex(),
        }

    def forger(self) -> FalWebhookSigner:
        return FalWebhookSigner(Ed25519PrivateKey.generate(), user_id=self.user_id, key_id="forged")

    def jwks(self) -> dict[str, Any]:
        raw = self._private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": x,
                    "kid": self.key_id,
                    "use": "sig",
                    "alg": "EdDSA",
                }
            ]
        }


def standard_webhook_signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of a Standard Webhooks message under a ``whsec_`` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


class StandardWebhookSigner(WebhookSigner):
    """Standard Webhooks (Svix-style) HMAC signatures, as Replicate sends them."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    @classmethod
    def generate(cls) -> StandardWebhookSigner:
        return cls("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())

    def headers(self, *, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        return {
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_webhook_signature(self.secret, event_id, timestamp, body),
        }

    def forger(self) -> StandardWebhookSigner:
        return StandardWebhookSigner.generate()
