"""Embedded mode: wake a waiting ``recv`` the moment this process sends to it.

On SQLite, DBOS learns of a message by polling the notifications table for every waiting
``recv``, each ``notification_poll_s``: a webhook waits for the next poll, and a dozen waiting
jobs cost a few hundred small queries a second. Embedded mode is one process (the engine's
lock enforces it), so every ``send`` comes from this process: after a send commits we set the
waiter's wake signal here, as DBOS's PostgreSQL listener does for a NOTIFY. The poll stays as
the fallback, so a wake that is missed only costs latency.

This builds on DBOS internals (``send_bulk``, ``notifications_map``, ``_waiter``) of the pinned
release; ``tests/engine/test_local_wake.py`` fails when they change.
"""

from __future__ import annotations

from typing import Any

from dbos._sys_db import SendMessage, SystemDatabase

__all__ = ["NULL_TOPIC", "wake_local_waiters"]

# What DBOS stores for a message sent without a topic (``_sys_db._dbos_null_topic``).
NULL_TOPIC = "__null__topic__"


def wake_local_waiters(system_database: SystemDatabase) -> None:
    """Make ``system_database``'s sends wake this process's waiting receivers at once."""
    send_bulk = system_database.send_bulk

    def send_bulk_and_wake(messages: list[SendMessage], **options: Any) -> None:
        send_bulk(messages, **options)
        for message in messages:
            topic = message.topic if message.topic is not None else NULL_TOPIC
            key, _ = system_database._waiter(message.destination_id, topic)
            signal = system_database.notifications_map.get(key)
            if signal is not None:
                signal.set()

    # An attribute on this one instance: the class, and any other process's, is untouched.
    system_database.send_bulk = send_bulk_and_wake  # type: ignore[method-assign]
