"""Drain and adopt: the upgrade path for a change that moves the workflow version.

DBOS resumes a workflow only in a process of the version stamped on it
(:mod:`reelforge.engine.versioning`). After a release that changes the version, the previous
version's unfinished workflows are either *drained* (a worker of the previous release runs
beside the new ones until :func:`active_versions` shows none left), or *adopted*: once no live
process of that version is left, :func:`adopt_workflows` stamps them with this release's version,
and puts those that were running in a dead process back on their queues. Any worker of this
release then picks them up and replays them from their last completed step, so nothing already
paid is paid again. Adopt only what this release's workflow code can replay: that is what its
release notes say when they name the version it adopts from.

DBOS has no public call that restamps a workflow still in flight, so this module updates
DBOS's ``workflow_status`` rows through DBOS's own table definitions and connection. A row
changes only while it is still unfinished and still of the old version, and only once no
process of that version beats, so no workflow is re-enqueued while a process still runs it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from dbos import DBOSClient
from dbos import error as dbos_error
from dbos._utils import INTERNAL_QUEUE_NAME
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from reelforge.catalog.records import WorkerRecord
from reelforge.catalog.repositories import WorkerRepository
from reelforge.engine.runtime import APP_NAME, sqlite_system_engine, translate_engine_error
from reelforge.errors import ConfigurationError, InvalidInput
from reelforge.log import get_logger

__all__ = ["ACTIVE_STATUSES", "Adoption", "active_versions", "adopt_workflows", "live_executors"]

log = get_logger(__name__)
T = TypeVar("T")

# Every status DBOS resumes from: running (or orphaned), waiting on a queue, waiting on a delay.
RUNNING = "PENDING"
WAITING = ("ENQUEUED", "DELAYED")
ACTIVE_STATUSES = (RUNNING, *WAITING)


@dataclass(frozen=True, slots=True)
class Adoption:
    """What :func:`adopt_workflows` moved (or, for a dry run, would move)."""

    from_version: str
    to_version: str
    requeued: tuple[str, ...]
    """Running in a dead process of the old version: back on their queue."""
    restamped: tuple[str, ...]
    """Waiting on a queue or a delay: only their version changed."""
    applied: bool

    def to_json(self) -> dict[str, object]:
        return {
            "from_version": self.from_version,
            "to_version": self.to_version,
            "requeued": list(self.requeued),
            "restamped": list(self.restamped),
            "applied": self.applied,
        }


def live_executors(
    workers: list[WorkerRecord], *, stale_after_s: float, now: datetime
) -> list[WorkerRecord]:
    """The executors that are running and beating (as the reaper judges them)."""
    fresh_after = now - timedelta(seconds=stale_after_s)
    return [w for w in workers if w.stopped_at is None and w.beat_at > fresh_after]


async def active_versions(system_database_url: str) -> dict[str, dict[str, int]]:
    """Unfinished workflows by stamped version, then by DBOS status."""
    with _system_database(system_database_url) as client:
        if client is None:
            return {}
        rows = await _in_thread(_count_active, client)
    counts: dict[str, dict[str, int]] = {}
    for version, status, count in rows:
        counts.setdefault(str(version), {})[str(status)] = int(count)
    return counts


async def adopt_workflows(
    workers: WorkerRepository,
    system_database_url: str,
    *,
    from_version: str,
    to_version: str,
    stale_after_s: float,
    now: Callable[[], datetime],
    dry_run: bool = False,
) -> Adoption:
    """Stamp ``from_version``'s unfinished workflows with ``to_version``, and re-enqueue those
    a dead process was running. Refused while a process of ``from_version`` still beats."""
    if not from_version.strip():
        raise InvalidInput("Name the workflow version to adopt from.")
    if from_version == to_version:
        raise InvalidInput(
            f"Workflows of version {from_version!r} already run on this release: nothing to adopt.",
            details={"from_version": from_version},
        )
    draining = [
        w.executor_id
        for w in live_executors(await workers.list(), stale_after_s=stale_after_s, now=now())
        if w.app_version == from_version
    ]
    if draining:
        raise ConfigurationError(
            f"Executors {', '.join(draining)} still run workflow version {from_version!r}: let "
            "them finish (drain) and stop them, or wait until their heartbeat is "
            f"{stale_after_s:g} s old, then adopt.",
            details={"executors": draining, "from_version": from_version},
        )
    with _system_database(system_database_url) as client:
        if client is None:
            return Adoption(from_version, to_version, (), (), applied=not dry_run)
        requeued, restamped = await _in_thread(_adopt, client, from_version, to_version, dry_run)
    adoption = Adoption(from_version, to_version, requeued, restamped, applied=not dry_run)
    log.info(
        "engine.adopted",
        from_version=from_version,
        to_version=to_version,
        requeued=len(requeued),
        restamped=len(restamped),
        dry_run=dry_run,
    )
    return adoption


def _count_active(client: DBOSClient) -> list[tuple[str, str, int]]:
    sys_db = client._sys_db
    ws = sys_db.tables.workflow_status
    query = (
        sa.select(ws.c.application_version, ws.c.status, sa.func.count())
        .where(ws.c.status.in_(ACTIVE_STATUSES), _this_application(ws))
        .group_by(ws.c.application_version, ws.c.status)
    )
    with sys_db.engine.begin() as connection:
        return [(str(r[0]), str(r[1]), int(r[2])) for r in connection.execute(query)]


def _adopt(
    client: DBOSClient, from_version: str, to_version: str, dry_run: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    sys_db = client._sys_db
    ws = sys_db.tables.workflow_status
    of_old_version = (ws.c.application_version == from_version, _this_application(ws))
    with sys_db.engine.begin() as connection:
        found = connection.execute(
            sa.select(ws.c.workflow_uuid, ws.c.status).where(
                ws.c.status.in_(ACTIVE_STATUSES), *of_old_version
            )
        ).all()
        running = tuple(sorted(str(r[0]) for r in found if r[1] == RUNNING))
        waiting = tuple(sorted(str(r[0]) for r in found if r[1] != RUNNING))
        if dry_run or not found:
            return running, waiting
        now_ms = int(time.time() * 1000)
        if running:
            # As DBOS's recovery does: back on the workflow's queue (or DBOS's internal one),
            # from which exactly one worker dequeues it.
            connection.execute(
                sa.update(ws)
                .where(ws.c.workflow_uuid.in_(running), ws.c.status == RUNNING, *of_old_version)
                .values(
                    status="ENQUEUED",
                    application_version=to_version,
                    owner_xid=None,
                    started_at_epoch_ms=None,
                    updated_at=now_ms,
                    queue_name=sa.func.coalesce(ws.c.queue_name, INTERNAL_QUEUE_NAME),
                )
            )
        if waiting:
            connection.execute(
                sa.update(ws)
                .where(ws.c.workflow_uuid.in_(waiting), ws.c.status.in_(WAITING), *of_old_version)
                .values(application_version=to_version, updated_at=now_ms)
            )
    return running, waiting


def _this_application(ws: sa.Table) -> sa.ColumnElement[bool]:
    return sa.or_(ws.c.application_name == APP_NAME, ws.c.application_name.is_(None))


@contextmanager
def _system_database(url: str) -> Iterator[DBOSClient | None]:
    """A DBOS client on the system database; None when an embedded one was never created."""
    engine: sa.Engine | None = None
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database is None or not Path(database).expanduser().is_file():
            yield None
            return
        engine = sqlite_system_engine(url, pool_size=2)
    try:
        client = DBOSClient(
            system_database_url=None if engine is not None else url,
            system_database_engine=engine,
            application_name=APP_NAME,
        )
    except (dbos_error.DBOSException, SQLAlchemyError, OSError) as exc:
        raise translate_engine_error(exc) from exc
    try:
        yield client
    finally:
        client.destroy()
        if engine is not None:
            engine.dispose()


async def _in_thread(call: Callable[..., T], *args: object) -> T:
    try:
        return await asyncio.to_thread(call, *args)
    except (dbos_error.DBOSException, SQLAlchemyError, OSError) as exc:
        raise translate_engine_error(exc) from exc
