"""Webhooks as the faces see them: subscriptions, callbacks, the delivery log, redelivery.

A URL is vetted by the ingest's URL guard when it is given (a typed ``URL_NOT_ALLOWED`` then,
rather than a delivery that fails for a day) and again before every attempt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from reelforge.engine.hooks.events import HOOK_EVENT_TYPES
from reelforge.engine.hooks.repository import HookRepository
from reelforge.engine.hooks.tables import DeliveryRecord, SubscriptionRecord
from reelforge.errors import FetchFailed, InvalidInput
from reelforge.media.url_guard import UrlGuard

__all__ = ["CALLBACK_EVENTS", "HookService", "Redeliver"]

#: What a run's ``callback_url`` hears: the run's own events.
CALLBACK_EVENTS = ("run.completed", "run.failed", "run.canceled", "job.failed", "cutscene.ready")
_MAX_URL = 2048

#: Starts a delivery's new round: ``(delivery_id, round)``.
Redeliver = Callable[[str, int], Awaitable[None]]


class HookService:
    """Subscriptions and deliveries, over the hooks' repository."""

    def __init__(self, hooks: HookRepository, guard: UrlGuard, redeliver: Redeliver) -> None:
        self._hooks = hooks
        self._guard = guard
        self._redeliver = redeliver

    async def subscribe(
        self, project_id: str, url: str, events: Sequence[str] | None = None
    ) -> SubscriptionRecord:
        """Subscribe ``url`` to a project's ``events`` (all of them by default)."""
        if not project_id or len(project_id) > 128:
            raise InvalidInput("A project id is 1-128 characters.", details={"field": "project_id"})
        chosen = tuple(events) if events else HOOK_EVENT_TYPES
        unknown = sorted(set(chosen) - set(HOOK_EVENT_TYPES))
        if unknown:
            raise InvalidInput(
                f"Unknown webhook events: {', '.join(unknown)}.",
                details={"field": "events", "unknown": unknown, "allowed": list(HOOK_EVENT_TYPES)},
            )
        await self.vet(url)
        return await self._hooks.subscribe(url, sorted(set(chosen)), project_id=project_id)

    async def callback(self, run_id: str, url: str) -> SubscriptionRecord:
        """A run's ``callback_url``: its own events, to that URL."""
        await self.vet(url)
        return await self._hooks.subscribe(url, CALLBACK_EVENTS, run_id=run_id)

    async def vet(self, url: str) -> None:
        """Refuse a URL no delivery may go to (``URL_NOT_ALLOWED``, ``INVALID_INPUT``)."""
        if len(url) > _MAX_URL:
            raise InvalidInput(
                f"A webhook URL is at most {_MAX_URL} characters.", details={"field": "url"}
            )
        try:
            await self._guard.vet(url)
        except FetchFailed as exc:
            # Its host did not resolve: a URL nothing could be delivered to now.
            raise InvalidInput(
                "The webhook URL's host could not be resolved.", details={"field": "url"}
            ) from exc

    async def subscriptions(self, project_id: str | None = None) -> list[SubscriptionRecord]:
        return await self._hooks.subscriptions(project_id)

    async def unsubscribe(self, subscription_id: str) -> None:
        await self._hooks.unsubscribe(subscription_id)

    async def deliveries(
        self, subscription_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[DeliveryRecord]:
        return await self._hooks.deliveries(subscription_id, limit=limit, offset=offset)

    async def delivery(self, delivery_id: str) -> DeliveryRecord:
        return await self._hooks.delivery(delivery_id)

    async def redeliver(self, delivery_id: str) -> DeliveryRecord:
        """Send a delivery again, whatever became of it, with a fresh schedule of attempts;
        its log keeps every attempt, the earlier rounds' too."""
        round_ = await self._hooks.reopen(delivery_id)
        await self._redeliver(delivery_id, round_)
        return await self._hooks.delivery(delivery_id)
