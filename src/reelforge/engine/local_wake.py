"""Embedded mode: wake a waiting ``recv`` the moment this process sends to it.

On SQLite, DBOS learns of a message by polling the notifications table for every waiting
``recv``, each ``notification_poll_s``: a webhook's job, and the run its last job tells, each
waited for the next poll. Embedded mode runs its work in one process (the engine's lock
enforces it; a ``client`` process only cancels), so the sends that matter come from this
process: after a send commits we look, as DBOS's poller does, for the receiver's unconsumed
message and wake it, as DBOS's PostgreSQL listener does on a NOTIFY. A replayed or duplicate
send, which inserts nothing, wakes nobody. The poll stays as the fallback, so a missed wake
only costs latency. Only the destination is woken (Reelforge never sends to forks, and
SQLite's system database is not sharded).

This builds on DBOS internals (``send_bulk``, ``recv_check``, ``notifications_map``,
``_waiter``) of the pinned release; ``tests/engine/test_local_wake.py`` fails when they change.
"""

from __future__ import annotations

from typing import Any

from dbos._sys_db import SendMessage, SystemDatabase

from reelforge.log import get_logger

__all__ = ["NULL_TOPIC", "wake_local_waiters"]

log = get_logger(__name__)

# What DBOS stores for a message sent without a topic (``_sys_db._dbos_null_topic``).
NULL_TOPIC = "__null__topic__"


def wake_local_waiters(system_database: SystemDatabase) -> None:
    """Make ``system_database``'s sends wake this process's waiting receivers at once."""
    send_bulk = system_database.send_bulk

    def send_bulk_and_wake(messages: list[SendMessage], **options: Any) -> None:
        send_bulk(messages, **options)
        # The send has committed: from here on nothing may make it look failed.
        try:
            for message in messages:
                topic = message.topic if message.topic is not None else NULL_TOPIC
                key, _ = system_database._waiter(message.destination_id, topic)
                signal = system_database.notifications_map.get(key)
                if signal is not None:
                    # Sets the signal only if an unconsumed message is there.
                    system_database.recv_check(message.destination_id, topic, signal)  # type: ignore[arg-type]
        except Exception as exc:
            log.warning("engine.local_wake_failed", error=type(exc).__name__)

    # An attribute on this one instance: the class, and any other process's, is untouched.
    system_database.send_bulk = send_bulk_and_wake  # type: ignore[method-assign]
