"""Heartbeats and the reaper's claims, on SQLite and on PostgreSQL (the catalog side; the
take-over itself is tested with real processes in test_engine_scale_out and
test_engine_upgrade). A scripted :class:`Recovery` and a hand-moved clock show the reaper's
check after a take-over, its backoff, and its bound."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from fixtures.database import blank_database_url, catalog, database_backend, database_url
from reelforge.catalog import Catalog
from reelforge.engine.reaper import (
    DBOSRecovery,
    PendingWorkflow,
    Reaper,
    Recovery,
    claim_executor_id,
)
from reelforge.errors import ConfigurationError

__all__ = ["blank_database_url", "catalog", "database_backend", "database_url"]


def _now() -> datetime:
    return datetime.now(UTC)


def _reaper(
    catalog: Catalog,
    recovery: Recovery,
    *,
    attempts: int = 5,
    now: Callable[[], datetime] = _now,
    executor_id: str = "me",
) -> Reaper:
    return Reaper(
        catalog.workers,
        recovery,
        executor_id=executor_id,
        incarnation="m",
        workflow_version="v1",
        heartbeat_s=1,
        stale_after_s=30,
        attempts=attempts,
        now=now,
    )


class ScriptedRecovery:
    """An executor's pending workflows; the first ``failures`` take-overs recover none of them
    (and say nothing, as DBOS's recovery does), later ones recover those of version v1."""

    def __init__(self, pending: list[PendingWorkflow], failures: int) -> None:
        self.pending_now = pending
        self.failures = failures
        self.calls = 0

    async def recover(self, executor_id: str) -> int:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            return 0
        ours = [w for w in self.pending_now if w.app_version == "v1"]
        self.pending_now = [w for w in self.pending_now if w.app_version != "v1"]
        return len(ours)

    async def pending(self, executor_id: str) -> list[PendingWorkflow]:
        return list(self.pending_now)


class Clock:
    def __init__(self) -> None:
        self.now = _now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


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


async def test_one_reaper_claims_a_silent_executor_and_only_a_restart_brings_it_back(
    catalog: Catalog,
) -> None:
    await _start(catalog, "dead")
    await _start(catalog, "alive")
    future = _now() + timedelta(seconds=60)
    (silent,) = await catalog.workers.unattended(future, exclude="alive")
    assert silent.executor_id == "dead"
    assert await catalog.workers.claim("dead", silent.beat_at, reaper="alive")
    assert not await catalog.workers.claim("dead", silent.beat_at, reaper="other")
    assert await catalog.workers.unattended(future, exclude="alive") == []
    # It was only slow: its beat fails (it is fenced, and stops).
    assert not await catalog.workers.beat("dead", "a")
    # Started again under a new incarnation: a later silence is another death to reap.
    await _start(catalog, "dead", "b")
    assert await catalog.workers.beat("dead", "b")
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
    reaper = _reaper(catalog, DBOSRecovery())
    # No DBOS runs in this process, so taking the work over fails: the claim is given back.
    assert await reaper.reap_once() == []
    row = await catalog.workers.get("gone")
    assert row is not None
    assert row.reaped_by is None
    assert [w.executor_id for w in await catalog.workers.unattended(_now(), exclude="me")] == [
        "gone"
    ]


async def _reaped_by(catalog: Catalog, executor_id: str) -> str | None:
    row = await catalog.workers.get(executor_id)
    assert row is not None
    return row.reaped_by


async def test_a_take_over_that_left_work_pending_is_retried_with_backoff(
    catalog: Catalog,
) -> None:
    await _start(catalog, "dead")
    await catalog.workers.stop("dead", "a")
    recovery = ScriptedRecovery([PendingWorkflow("job-1", "v1"), PendingWorkflow("run-1", "v1")], 2)
    clock = Clock()
    reaper = _reaper(catalog, recovery, now=clock)
    assert await reaper.reap_once() == []
    assert (recovery.calls, await _reaped_by(catalog, "dead")) == (1, None)
    # Backing off: one heartbeat after the first failure, two after the second.
    assert await reaper.reap_once() == []
    assert recovery.calls == 1
    clock.advance(1)
    assert await reaper.reap_once() == []
    assert recovery.calls == 2
    clock.advance(1)
    assert await reaper.reap_once() == []
    assert recovery.calls == 2
    clock.advance(1)
    assert await reaper.reap_once() == ["dead"]
    assert (recovery.calls, await _reaped_by(catalog, "dead")) == (3, "me")
    assert recovery.pending_now == []


async def test_a_reaper_gives_up_after_its_attempts_and_leaves_the_executor_to_others(
    catalog: Catalog,
) -> None:
    await _start(catalog, "dead")
    await catalog.workers.stop("dead", "a")
    recovery = ScriptedRecovery([PendingWorkflow("job-1", "v1")], failures=10)
    clock = Clock()
    reaper = _reaper(catalog, recovery, attempts=3, now=clock)
    for _ in range(10):
        assert await reaper.reap_once() == []
        clock.advance(60)
    assert recovery.calls == 3
    assert await _reaped_by(catalog, "dead") is None
    # Another process tries on its own; the executor starting again counts afresh (the
    # incarnation whose claim was given back stays fenced).
    assert not await catalog.workers.beat("dead", "a")
    other = ScriptedRecovery([PendingWorkflow("job-1", "v1")], failures=0)
    assert await _reaper(catalog, other, executor_id="other").reap_once() == ["dead"]
    await _start(catalog, "dead", "b")
    await catalog.workers.stop("dead", "b")
    recovery.failures = 0
    assert await reaper.reap_once() == ["dead"]
    assert recovery.calls == 4


async def test_work_of_another_version_is_left_to_a_reaper_of_that_version(
    catalog: Catalog,
) -> None:
    await _start(catalog, "dead")
    await catalog.workers.stop("dead", "a")
    recovery = ScriptedRecovery([PendingWorkflow("job-1", "v1"), PendingWorkflow("job-0", "v0")], 0)
    clock = Clock()
    reaper = _reaper(catalog, recovery, now=clock)
    assert await reaper.reap_once() == []
    assert recovery.pending_now == [PendingWorkflow("job-0", "v0")]
    assert await _reaped_by(catalog, "dead") is None
    clock.advance(60)
    assert await reaper.reap_once() == []
    assert recovery.calls == 1
