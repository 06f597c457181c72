"""Deliveries signed with the Standard Webhooks scheme, through the ``standardwebhooks`` package.

The secret (``whsec_<base64>``) is read from the variable that ``engine.hooks.secret_env``
names, when the first delivery is signed; it is never logged or stored. A receiver verifies a
delivery with the same secret (``standardwebhooks.Webhook(secret).verify(body, headers)``);
``webhook-id`` is the delivery's id, the same on every attempt, so a receiver can drop repeats.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from datetime import datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from reelforge.errors import ConfigurationError

__all__ = ["HookSigner"]


class HookSigner:
    """Signs delivery bodies with the secret the environment holds."""

    def __init__(self, secret_env: str, environ: Mapping[str, str]) -> None:
        self._secret_env = secret_env
        self._environ = environ

    def headers(self, delivery_id: str, at: datetime, body: bytes) -> dict[str, str]:
        """The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers."""
        signature = self._webhook().sign(delivery_id, at, body)
        return {
            "webhook-id": delivery_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        }

    def _webhook(self) -> Webhook:
        secret = self._environ.get(self._secret_env)
        if not secret:
            raise ConfigurationError(
                f"No webhook signing secret: set {self._secret_env} to a whsec_<base64> secret.",
                details={"variable": self._secret_env},
            )
        try:
            return Webhook(secret)
        except (binascii.Error, ValueError, EmptyWebhookSecretError) as exc:
            raise ConfigurationError(
                f"The webhook signing secret in {self._secret_env} is not a whsec_<base64> secret.",
                details={"variable": self._secret_env},
            ) from exc
