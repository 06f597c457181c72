"""A queued workflow's priority, changed after it was enqueued.

DBOS dequeues a queue's ``ENQUEUED`` workflows by ``workflow_status.priority`` (lower first),
then by creation time, and offers no call to change a priority once set. This writes that
column for workflows still waiting on their queue; one already dequeued (running, or waiting
on a pause before its submit) keeps its place. It builds on DBOS internals of the pinned
release (``SystemDatabase.engine``, ``tables.workflow_status``);
``tests/engine/test_queue_control.py`` fails when they change.
"""

from __future__ import annotations

import sqlalchemy as sa
from dbos._sys_db import SystemDatabase

__all__ = ["set_enqueued_priority"]

_ENQUEUED = "ENQUEUED"


def set_enqueued_priority(
    system_database: SystemDatabase, workflow_ids: list[str], priority: int
) -> int:
    """Set ``priority`` on those of ``workflow_ids`` still enqueued; how many were."""
    if not workflow_ids:
        return 0
    table = system_database.tables.workflow_status
    statement = (
        sa.update(table)
        .where(table.c.workflow_uuid.in_(workflow_ids), table.c.status == _ENQUEUED)
        .values(priority=priority)
    )
    with system_database.engine.begin() as connection:
        return int(connection.execute(statement).rowcount)
