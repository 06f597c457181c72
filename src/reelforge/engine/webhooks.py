"""Provider callbacks (``POST /webhooks/{provider}``, :mod:`reelforge.api.webhooks`): verified,
recorded and delivered.

The adapter verifies the callback (signature, timestamp window, replay) and parses it. A
refused callback gets 401 and is only logged. Every authentic one is kept as received in the
catalog's ``webhook_events`` (and in its job's history when the job is known) with what became
of it, and is acknowledged with 200 whatever that was, so providers never retry in vain:

- ``delivered``: sent (DBOS ``send``, topic ``webhook``) to the job's waiting workflow;
- ``duplicate``: the same event again (a replay the adapter caught, or an event id already
  delivered to this job): recorded, not delivered;
- ``late``: the job had already ended (its poll won the race, or it was canceled);
- ``unknown``: no job has that provider request id, and the URL names none of our jobs that
  sent such an attempt (not ours);
- ``invalid``: authentic, but its body could not be read.

Our webhook URLs name the job and attempt (``?job=...&attempt=...``, passed here as
``query``), so a callback whose request id was never recorded is still traced
(:mod:`reelforge.engine.orphans`). While that attempt is inside its submit window (the process
died between the provider accepting and the catalog recording it) the callback is kept in the
job's history for the submit step's recovery to adopt, and sent to the job's workflow, which
may be waiting for it: recorded as ``delivered``, answered with ``"adopted": true``. When the
job went on without that submission, the provider billed it anyway if it finished: the
charge is recorded for the job (a settled reservation, reason "billed twice: ...") and the
callback as ``late``, answered with ``"orphan": true``. (These two keep the outcomes the
``webhook_events`` table allows, so no migration is needed.)

The message carries the provider's request id, so a workflow ignores one that is about an
earlier attempt of the job; and an idempotency key, so a delivery repeated after a crash of
this process reaches the workflow once.

"As received" leaves out what a vendor echoes of the request's prompt (any text under a key
naming a prompt: Replicate's ``input.prompt``, fal's ``prompt``, Leonardo's ``prompt``): the job's
own row keeps the prompt where its feature wants it kept (``JobSpec.keep_prompt``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanContext

from reelforge.catalog import Catalog
from reelforge.catalog.records import WebhookOutcome
from reelforge.engine.orphans import adoption_of
from reelforge.engine.states import state_payload
from reelforge.engine.workflows import WEBHOOK_TOPIC, job_workflow_id
from reelforge.errors import (
    NotFound,
    ReelforgeError,
    Unauthorized,
)
from reelforge.log import get_logger
from reelforge.providers.base import Provider, WebhookEvent
from reelforge.providers.registry import ProviderRegistry
from reelforge.tracing import bind_trace, span_context_of, span_id_for, trace_id_of

if TYPE_CHECKING:
    from reelforge.engine.runtime import Engine

__all__ = ["MAX_WEBHOOK_BODY", "WebhookInbox"]

log = get_logger(__name__)

MAX_WEBHOOK_BODY = 8 * 1024 * 1024


class WebhookInbox:
    """Receives provider callbacks for the engine."""

    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        providers: ProviderRegistry,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._catalog = catalog
        self._providers = providers
        self._clock = clock

    async def receive(
        self,
        provider_id: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        provider = self._provider(provider_id)
        replayed = False
        try:
            await _verify(provider, headers, body)
        except Unauthorized as exc:
            if exc.details.get("reason") != "replayed":
                log.warning(
                    "engine.webhook.refused", provider=provider_id, reason=exc.details.get("reason")
                )
                raise
            replayed = True
        try:
            event = provider.parse_webhook(headers, body)
        except ReelforgeError as exc:
            log.warning("engine.webhook.invalid", provider=provider_id, code=exc.code)
            event = None
        if event is None:
            await self._record(provider_id, "invalid", _raw(body))
            return {"received": True, "outcome": "invalid"}
        raw = _without_prompts(dict(event.raw)) if event.raw else _raw(body)
        state = state_payload(event.state)
        targets = self._catalog.webhook_events
        try:
            target = await targets.target(provider_id, event.request_id, event.event_id)
        except NotFound:
            named = _named_job(query)
            if named is not None:
                stray = await self._stray(provider_id, event, state, raw, *named)
                if stray is not None:
                    return stray
            try:
                # The named job may have recorded this very request since the first look.
                target = await targets.target(provider_id, event.request_id, event.event_id)
            except NotFound:
                await self._record(
                    provider_id,
                    "unknown",
                    raw,
                    request_id=event.request_id,
                    event_id=event.event_id,
                )
                log.info(
                    "engine.webhook.unknown", provider=provider_id, request_id=event.request_id
                )
                return {"received": True, "outcome": "unknown"}
        job = target.job
        outcome: WebhookOutcome = "delivered"
        if replayed or target.delivered:
            outcome = "duplicate"
        elif job.is_terminal:
            outcome = "late"
        if outcome == "delivered":
            await self._deliver(provider_id, event, state, job.id)
        await self._record(
            provider_id,
            outcome,
            raw,
            request_id=event.request_id,
            event_id=event.event_id,
            job_id=job.id,
            history={"outcome": outcome, "event_id": event.event_id, "state": state, "body": raw},
        )
        # The callback belongs to the job's work: its trace, and a link from the request's span.
        job_span = span_context_of(job.traceparent)
        if job_span is not None:
            trace.get_current_span().add_link(
                SpanContext(job_span.trace_id, span_id_for(job.id), True, job_span.trace_flags)
            )
        with bind_trace(trace_id_of(job.traceparent)):
            log.info(
                "engine.webhook.received", provider=provider_id, job_id=job.id, outcome=outcome
            )
        return {"received": True, "outcome": outcome, "job_id": job.id}

    async def _deliver(
        self, provider_id: str, event: WebhookEvent, state: dict[str, Any], job_id: str
    ) -> None:
        message = state | {
            "request_id": event.request_id,
            "event_id": event.event_id,
            "at": self._clock(),
        }
        key = f"{provider_id}:{event.event_id or event.request_id}:{job_id}"
        await self._engine.send(job_workflow_id(job_id), message, WEBHOOK_TOPIC, key)

    async def _stray(
        self,
        provider_id: str,
        event: WebhookEvent,
        state: dict[str, Any],
        raw: dict[str, Any],
        job_id: str,
        attempt: int,
    ) -> dict[str, Any] | None:
        """A callback with a request id no job holds, whose URL names ``job_id`` and
        ``attempt``: adopted into the attempt's submit window, or an orphan's bill."""
        orphans = self._engine.operations.orphans
        stray = await orphans.stray(provider_id, job_id, attempt, event.request_id)
        if stray is None:
            return None
        ids = {"request_id": event.request_id, "event_id": event.event_id, "job_id": job_id}
        if stray == "adopt":
            adoption = adoption_of(attempt, event.request_id, state)
            history = {"outcome": "delivered", **adoption.payload(), "state": state, "body": raw}
            await self._record(provider_id, "delivered", raw, **ids, history=history)
            await self._deliver(provider_id, event, state, job_id)
            # The step may have accepted another submission meanwhile: then this is an orphan.
            await orphans.adopted(job_id, attempt)
            log.info("engine.webhook.adopted", provider=provider_id, job_id=job_id)
            return {"received": True, "outcome": "delivered", "adopted": True, "job_id": job_id}
        charged = False
        if state["state"] == "succeeded":
            cost = state.get("cost_usd")
            reported = None if cost is None else Decimal(str(cost))
            charged = await orphans.charge_orphan(job_id, attempt, event.request_id, reported)
        orphan = {"attempt": attempt, "request_id": event.request_id, "charged": charged}
        history = {"outcome": "late", "orphan": orphan, "state": state, "body": raw}
        await self._record(provider_id, "late", raw, **ids, history=history)
        log.info("engine.webhook.orphan", provider=provider_id, job_id=job_id, charged=charged)
        return {"received": True, "outcome": "late", "orphan": True, "job_id": job_id}

    def _provider(self, provider_id: str) -> Provider:
        if provider_id not in self._providers.ids:
            raise NotFound(f"No provider {provider_id!r}.", details={"provider": provider_id})
        provider = self._providers.get(provider_id)
        if not provider.sends_webhooks:
            raise NotFound(
                f"Provider {provider_id!r} sends no webhooks.", details={"provider": provider_id}
            )
        return provider

    async def _record(
        self,
        provider_id: str,
        outcome: WebhookOutcome,
        body: dict[str, Any],
        *,
        request_id: str | None = None,
        event_id: str | None = None,
        job_id: str | None = None,
        history: dict[str, Any] | None = None,
    ) -> None:
        await self._catalog.webhook_events.add(
            provider=provider_id,
            outcome=outcome,
            body=body,
            request_id=request_id,
            event_id=event_id,
            job_id=job_id,
            history=history,
        )


async def _verify(provider: Provider, headers: Mapping[str, str], body: bytes) -> None:
    # Adapters that fetch their keys first (fal's JWKS) offer an async verifier.
    verify_async = getattr(provider, "verify_webhook_async", None)
    if callable(verify_async):
        await verify_async(headers, body)
    else:
        provider.verify_webhook(headers, body)


def _named_job(query: Mapping[str, str] | None) -> tuple[str, int] | None:
    """The job and attempt our webhook URL named, if it did."""
    if not query:
        return None
    job_id = query.get("job")
    attempt = query.get("attempt", "")
    if not job_id or not attempt.isdigit() or len(job_id) > 64:
        return None
    return job_id, int(attempt)


def _raw(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"text": body[:65536].decode("utf-8", errors="replace")}
    found: dict[str, Any] = _without_prompts(
        parsed if isinstance(parsed, dict) else {"json": parsed}
    )
    return found


_PROMPT_KEY = re.compile(r"prompt", re.I)
PROMPT_OMITTED = "[prompt omitted]"


def _without_prompts(value: Any) -> Any:
    """``value`` with every text under a key that names a prompt left out (see the module)."""
    if isinstance(value, dict):
        return {
            key: PROMPT_OMITTED
            if isinstance(item, str) and isinstance(key, str) and _PROMPT_KEY.search(key)
            else _without_prompts(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_prompts(item) for item in value]
    return value
