"""Heartbeats and the reaper's claims, on SQLite and on PostgreSQL (the catalog side; the
take-over itself is tested with real processes in test_engine_scale_out)."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

import pytest

from fixtures.database import blank_database_url, catalog, database_backend, database_url
from reelforge.catalog import Catalog
from reelforge.engine.reaper import Reaper, claim_executor_id
from reelforge.errors import ConfigurationError

__all__ = ["blank_database_url", "catalog", "database_backend", "database_url"]


def _now() -> datetime:
    return datetime.now(UTC)


async def _start(catalog: Catalog, executor_id: str, incarnation: str = "a") -> None:
    await claim_executor_id(
        catalog.workers,
        executor_id=executor_id,
        incarnation=incarnation,
        role="worker",
        app_version="0.1.0",
        stale_after_s=30,
        now=_now,
    )


async def test_a_live_executor_id_is_not_taken_twice(catalog: Catalog) -> None:
    await catalog.workers.start(
        executor_id="w1",
        host="another-machine",
        pid=1,
        incarnation="x",
        role="worker",
        app_version="0.1.0",
    )
    with pytest.raises(ConfigurationError, match="executor_id"):
        await _start(catalog, "w1")
    # Same host, the old process is gone (a restart after kill -9): the id is ours again.
    await catalog.workers.start(
        executor_id="w2",
        host=socket.gethostname(),
        pid=2**22 + 12345,
        incarnation="x",
        role="worker",
        app_version="0.1.0",
    )
    await _start(catalog, "w2", "b")
    row = await catalog.workers.get("w2")
    assert row is not None
    assert (row.pid, row.incarnation) == (os.getpid(), "b")


async def test_one_reaper_claims_a_silent_executor_and_beats_clear_it(catalog: Catalog) -> None:
    await _start(catalog, "dead")
    await _start(catalog, "alive")
    future = _now() + timedelta(seconds=60)
    (silent,) = await catalog.workers.unattended(future, exclude="alive")
    assert silent.executor_id == "dead"
    assert await catalog.workers.claim("dead", silent.beat_at, reaper="alive")
    assert not await catalog.workers.claim("dead", silent.beat_at, reaper="other")
    assert await catalog.workers.unattended(future, exclude="alive") == []
    # It comes back and beats: a later silence is another death to reap.
    assert await catalog.workers.beat("dead", "a")
    assert [w.executor_id for w in await catalog.workers.unattended(future, exclude="x")] == [
        "alive",
        "dead",
    ]
    assert not await catalog.workers.beat("dead", "stale-incarnation")


async def test_a_stopped_executor_is_reaped_at_once_and_a_failed_take_over_retried(
    catalog: Catalog,
) -> None:
    await _start(catalog, "gone")
    await catalog.workers.stop("gone", "a")
    reaper = Reaper(
        catalog.workers,
        executor_id="me",
        incarnation="m",
        heartbeat_s=1,
        stale_after_s=30,
        now=_now,
    )
    # No DBOS runs in this process, so taking the work over fails: the claim is given back.
    assert await reaper.reap_once() == []
    row = await catalog.workers.get("gone")
    assert row is not None
    assert row.reaped_by is None
    assert [w.executor_id for w in await catalog.workers.unattended(_now(), exclude="me")] == [
        "gone"
    ]
