"""The webhooks' tables and their rows as records.

``hook_subscriptions``: a URL and the events it wants, for a project's runs or for one run (a
caller's ``callback_url``). ``hook_deliveries``: one event for one subscription (unique on the
pair, so an event announced twice is delivered once), with its body as sent. ``hook_attempts``:
the delivery log, one row per attempt. They share the catalog's ``Base``;
:mod:`reelforge.schema` lists this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reelforge.catalog.models import Base, EventId

__all__ = [
    "DELIVERY_STATUSES",
    "AttemptOutcome",
    "AttemptRecord",
    "DeliveryRecord",
    "DeliveryStatus",
    "HookAttemptRow",
    "HookDeliveryRow",
    "HookSubscriptionRow",
    "SubscriptionRecord",
]

DeliveryStatus = Literal["pending", "delivered", "failed"]
DELIVERY_STATUSES: tuple[str, ...] = get_args(DeliveryStatus)
#: ``delivered``: a 2xx answer; ``failed``: any other answer, or none; ``refused``: the URL
#: guard refused the address (tried again all the same: DNS may change).
AttemptOutcome = Literal["delivered", "failed", "refused"]
ATTEMPT_OUTCOMES: tuple[str, ...] = get_args(AttemptOutcome)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class HookSubscriptionRow(Base):
    __tablename__ = "hook_subscriptions"
    __table_args__ = (
        CheckConstraint("project_id IS NOT NULL OR run_id IS NOT NULL", name="scope"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(String(128), index=True)
    run_id: Mapped[str | None] = mapped_column(String(32), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class HookDeliveryRow(Base):
    __tablename__ = "hook_deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),
        UniqueConstraint("subscription_id", "event_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("hook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_key: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    rounds: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class HookAttemptRow(Base):
    __tablename__ = "hook_attempts"
    __table_args__ = (CheckConstraint(_one_of("outcome", ATTEMPT_OUTCOMES), name="outcome"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("hook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: str
    project_id: str | None
    run_id: str | None
    url: str
    events: tuple[str, ...]
    created_at: datetime

    @classmethod
    def of(cls, row: HookSubscriptionRow) -> SubscriptionRecord:
        return cls(
            id=row.id,
            project_id=row.project_id,
            run_id=row.run_id,
            url=row.url,
            events=tuple(row.events.get("types", ())),
            created_at=row.created_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "run_id": self.run_id,
            "url": self.url,
            "events": list(self.events),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: int
    at: datetime
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "status_code": self.status_code,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: str
    subscription_id: str
    url: str
    event_type: str
    event_key: str
    run_id: str | None
    body: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    rounds: int
    created_at: datetime
    updated_at: datetime
    log: tuple[AttemptRecord, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subscription_id": self.subscription_id,
            "url": self.url,
            "event": self.event_type,
            "run_id": self.run_id,
            "status": self.status,
            "attempts": self.attempts,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "log": [attempt.to_json() for attempt in self.log],
        }


def attempt_record(row: HookAttemptRow) -> AttemptRecord:
    outcome: AttemptOutcome = row.outcome  # type: ignore[assignment]
    return AttemptRecord(row.attempt, row.at, outcome, row.status_code, row.error)


def delivery_record(
    row: HookDeliveryRow, url: str, log: tuple[AttemptRecord, ...] = ()
) -> DeliveryRecord:
    status: DeliveryStatus = row.status  # type: ignore[assignment]
    return DeliveryRecord(
        id=row.id,
        subscription_id=row.subscription_id,
        url=url,
        event_type=row.event_type,
        event_key=row.event_key,
        run_id=row.run_id,
        body=row.body,
        status=status,
        attempts=row.attempts,
        rounds=row.rounds,
        created_at=row.created_at,
        updated_at=row.updated_at,
        log=log,
    )
