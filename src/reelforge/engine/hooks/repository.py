"""The only SQL on the webhooks' tables (:mod:`.tables`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select

from reelforge.catalog.models import new_id
from reelforge.catalog.repositories._base import Repository, check_page
from reelforge.engine.hooks.events import HookEvent
from reelforge.engine.hooks.tables import (
    AttemptOutcome,
    DeliveryRecord,
    DeliveryStatus,
    HookAttemptRow,
    HookDeliveryRow,
    HookSubscriptionRow,
    SubscriptionRecord,
    attempt_record,
    delivery_record,
)
from reelforge.errors import Conflict, NotFound

__all__ = ["HookRepository"]


class HookRepository(Repository):
    """Subscriptions, deliveries and their attempts."""

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(
        self,
        url: str,
        events: Sequence[str],
        *,
        project_id: str | None = None,
        run_id: str | None = None,
    ) -> SubscriptionRecord:
        row = HookSubscriptionRow(
            id=new_id(),
            project_id=project_id,
            run_id=run_id,
            url=url,
            events={"types": list(events)},
            created_at=self._now(),
        )
        async with self._write() as session:
            session.add(row)
            await session.flush()
            return SubscriptionRecord.of(row)

    async def subscription(self, subscription_id: str) -> SubscriptionRecord:
        async with self._read() as session:
            row = await session.get(HookSubscriptionRow, subscription_id)
            if row is None:
                raise _missing("subscription", subscription_id)
            return SubscriptionRecord.of(row)

    async def subscriptions(self, project_id: str | None = None) -> list[SubscriptionRecord]:
        """A project's subscriptions (every project's without one), oldest first; a run's
        callback is listed with its run only."""
        query = select(HookSubscriptionRow).order_by(HookSubscriptionRow.created_at)
        if project_id is not None:
            query = query.where(HookSubscriptionRow.project_id == project_id)
        else:
            query = query.where(HookSubscriptionRow.run_id.is_(None))
        async with self._read() as session:
            return [SubscriptionRecord.of(row) for row in (await session.scalars(query)).all()]

    async def unsubscribe(self, subscription_id: str) -> None:
        async with self._write() as session:
            row = await session.get(HookSubscriptionRow, subscription_id)
            if row is None:
                raise _missing("subscription", subscription_id)
            await session.delete(row)

    # -- deliveries --------------------------------------------------------------------------

    async def record_event(self, event: HookEvent) -> list[str]:
        """One pending delivery per subscription the event concerns; the ids of the event's
        deliveries, those made before included (announcing an event twice makes none new).
        An event nobody subscribed to costs one read, no write."""
        wanted = await self._subscribers(event)
        if not wanted:
            return []
        try:
            return await self._record_event(event, wanted)
        except Conflict:
            # Another process recorded the same event at the same moment: its rows stand.
            return await self._event_deliveries(event.key, wanted)

    async def _subscribers(self, event: HookEvent) -> list[str]:
        scope = []
        if event.project_id is not None:
            scope.append(HookSubscriptionRow.project_id == event.project_id)
        if event.run_id is not None:
            scope.append(HookSubscriptionRow.run_id == event.run_id)
        if not scope:
            return []
        async with self._read() as session:
            found = (await session.scalars(select(HookSubscriptionRow).where(or_(*scope)))).all()
        return [s.id for s in found if event.type in s.events.get("types", ())]

    async def _record_event(self, event: HookEvent, wanted: list[str]) -> list[str]:
        async with self._write() as session:
            rows = await session.execute(
                select(HookDeliveryRow.subscription_id, HookDeliveryRow.id).where(
                    HookDeliveryRow.subscription_id.in_(wanted),
                    HookDeliveryRow.event_key == event.key,
                )
            )
            known = {subscription_id: delivery_id for subscription_id, delivery_id in rows}
            now = self._now()
            ids: list[str] = []
            for subscription_id in wanted:
                if subscription_id in known:
                    ids.append(known[subscription_id])
                    continue
                row = HookDeliveryRow(
                    id=new_id(),
                    subscription_id=subscription_id,
                    event_key=event.key,
                    event_type=event.type,
                    run_id=event.run_id,
                    body=event.body(),
                    status="pending",
                    attempts=0,
                    rounds=1,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                ids.append(row.id)
            await session.flush()
            return ids

    async def _event_deliveries(self, event_key: str, wanted: list[str]) -> list[str]:
        query = select(HookDeliveryRow.id).where(
            HookDeliveryRow.subscription_id.in_(wanted), HookDeliveryRow.event_key == event_key
        )
        async with self._read() as session:
            return list((await session.scalars(query)).all())

    async def delivery(self, delivery_id: str) -> DeliveryRecord:
        async with self._read() as session:
            row = await session.get(HookDeliveryRow, delivery_id)
            if row is None:
                raise _missing("delivery", delivery_id)
            subscription = await session.get(HookSubscriptionRow, row.subscription_id)
            attempts = await session.scalars(
                select(HookAttemptRow)
                .where(HookAttemptRow.delivery_id == delivery_id)
                .order_by(HookAttemptRow.id)
            )
            log = tuple(attempt_record(a) for a in attempts.all())
            return delivery_record(row, subscription.url if subscription else "", log)

    async def deliveries(
        self, subscription_id: str, *, limit: int = 50, offset: int = 0
    ) -> list[DeliveryRecord]:
        """A subscription's deliveries, newest first, each with its attempts."""
        check_page(limit, offset)
        subscription = await self.subscription(subscription_id)
        query = (
            select(HookDeliveryRow)
            .where(HookDeliveryRow.subscription_id == subscription_id)
            .order_by(HookDeliveryRow.created_at.desc(), HookDeliveryRow.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._read() as session:
            rows = (await session.scalars(query)).all()
            attempts = (
                await session.scalars(
                    select(HookAttemptRow)
                    .where(HookAttemptRow.delivery_id.in_([row.id for row in rows]))
                    .order_by(HookAttemptRow.id)
                )
            ).all()
        logs: dict[str, list[HookAttemptRow]] = {}
        for attempt in attempts:
            logs.setdefault(attempt.delivery_id, []).append(attempt)
        return [
            delivery_record(
                row, subscription.url, tuple(attempt_record(a) for a in logs.get(row.id, ()))
            )
            for row in rows
        ]

    async def record_attempt(
        self,
        delivery_id: str,
        outcome: AttemptOutcome,
        *,
        status_code: int | None,
        error: str | None,
        final: bool,
    ) -> DeliveryStatus:
        """Log one attempt; the delivery's status after it (``failed`` only when ``final``)."""
        async with self._write() as session:
            row = await session.get(HookDeliveryRow, delivery_id, with_for_update=True)
            if row is None:
                raise _missing("delivery", delivery_id)
            row.attempts += 1
            now = self._now()
            session.add(
                HookAttemptRow(
                    delivery_id=delivery_id,
                    attempt=row.attempts,
                    at=now,
                    outcome=outcome,
                    status_code=status_code,
                    error=error[:300] if error else None,
                )
            )
            status: DeliveryStatus = "pending"
            if outcome == "delivered":
                status = "delivered"
            elif final:
                status = "failed"
            row.status, row.updated_at = status, now
            return status

    async def reopen(self, delivery_id: str) -> int:
        """Put a delivery back to ``pending`` for a manual redelivery; its new round."""
        async with self._write() as session:
            row = await session.get(HookDeliveryRow, delivery_id, with_for_update=True)
            if row is None:
                raise _missing("delivery", delivery_id)
            row.rounds += 1
            row.status, row.updated_at = "pending", self._now()
            return row.rounds


def _missing(kind: str, ident: str) -> NotFound:
    return NotFound(f"No webhook {kind} {ident}.", details={kind: ident})
