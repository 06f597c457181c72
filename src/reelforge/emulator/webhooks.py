"""The emulator's webhook sender: signed callbacks, and the ways callbacks go wrong in life.

Each delivery consults the fault rules for operation ``webhook`` of its provider: ``lost`` sends
nothing, ``duplicated`` sends the same signed request twice (a replay, as far as the receiver can
tell), ``delayed`` waits ``delay_s`` first, ``out_of_order`` is held back until the provider's next
callback has gone out (or ``delay_s``, default 2 s, has passed), ``bad_signature`` signs with a key
the receiver does not trust and ``stale_timestamp`` signs a timestamp ``stale_by_s`` in the past.
A delivery that meets a connection error or a 5xx is tried again, up to ``webhook_attempts``.
Every attempt is written to the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass

import httpx

from reelforge.emulator.signing import WebhookSigner
from reelforge.emulator.state import (
    EmulatorState,
    FaultFamily,
    FaultKind,
    FaultRule,
    WebhookRecord,
)
from reelforge.log import get_logger

__all__ = ["WebhookDelivery", "WebhookSender"]

log = get_logger(__name__)

_DEFAULT_HOLD_S = 2.0
_RETRY_BACKOFF_S = 0.2


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One callback to send: what, where, and how it is signed."""

    provider: str
    request_id: str
    url: str
    body: bytes
    signer: WebhookSigner
    content_type: str = "application/json"


class WebhookSender:
    """Sends deliveries with its own HTTP client (the caller opens and closes it)."""

    def __init__(self, state: EmulatorState, http: httpx.AsyncClient) -> None:
        self._state = state
        self._http = http
        self._held: defaultdict[str, list[asyncio.Event]] = defaultdict(list)

    async def send(self, delivery: WebhookDelivery) -> None:
        fault = self._state.take_fault(delivery.provider, "webhook", FaultFamily.WEBHOOK)
        kind = fault.kind if fault is not None else None
        if kind is FaultKind.LOST:
            self._record(delivery, 0, None, kind)
            log.info(
                "emulator.webhook.lost", provider=delivery.provider, request_id=delivery.request_id
            )
            return
        headers = self._sign(delivery, fault)
        if kind is FaultKind.DELAYED:
            await asyncio.sleep(_delay(fault))
        if kind is FaultKind.OUT_OF_ORDER:
            await self._wait_for_next(delivery.provider, _delay(fault))
            await self._post(delivery, headers, kind)
            return
        await self._post(delivery, headers, kind)
        if kind is FaultKind.DUPLICATED:
            await self._post(delivery, headers, kind)
        self._release_held(delivery.provider)

    def _sign(self, delivery: WebhookDelivery, fault: FaultRule | None) -> dict[str, str]:
        now = int(self._state.clock())
        signer = delivery.signer
        if fault is not None and fault.kind is FaultKind.BAD_SIGNATURE:
            signer = signer.forger()
        if fault is not None and fault.kind is FaultKind.STALE_TIMESTAMP:
            now -= int(fault.stale_by_s)
        headers = signer.headers(event_id=delivery.request_id, timestamp=now, body=delivery.body)
        return headers | {"Content-Type": delivery.content_type}

    async def _wait_for_next(self, provider: str, hold_s: float) -> None:
        released = asyncio.Event()
        self._held[provider].append(released)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), hold_s)
        with contextlib.suppress(ValueError):
            self._held[provider].remove(released)

    def _release_held(self, provider: str) -> None:
        held, self._held[provider] = self._held[provider], []
        for released in held:
            released.set()

    async def _post(
        self, delivery: WebhookDelivery, headers: dict[str, str], kind: FaultKind | None
    ) -> None:
        attempts = self._state.config.webhook_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = await self._http.post(
                    delivery.url, content=delivery.body, headers=headers
                )
            except httpx.HTTPError as exc:
                self._record(delivery, attempt, None, kind, error=type(exc).__name__)
            else:
                self._record(delivery, attempt, response.status_code, kind)
                if response.status_code < 500:
                    log.info(
                        "emulator.webhook.sent",
                        provider=delivery.provider,
                        request_id=delivery.request_id,
                        status=response.status_code,
                        fault=kind,
                    )
                    return
            if attempt < attempts:
                await asyncio.sleep(_RETRY_BACKOFF_S * attempt)
        log.warning(
            "emulator.webhook.undelivered",
            provider=delivery.provider,
            request_id=delivery.request_id,
            attempts=attempts,
        )

    def _record(
        self,
        delivery: WebhookDelivery,
        attempt: int,
        status: int | None,
        kind: FaultKind | None,
        *,
        error: str | None = None,
    ) -> None:
        self._state.record_webhook(
            WebhookRecord(
                at=self._state.clock(),
                provider=delivery.provider,
                request_id=delivery.request_id,
                url=delivery.url,
                attempt=attempt,
                status=status,
                fault=kind.value if kind else None,
                error=error,
            )
        )


def _delay(fault: FaultRule | None) -> float:
    if fault is None or fault.delay_s is None:
        return _DEFAULT_HOLD_S
    return fault.delay_s
