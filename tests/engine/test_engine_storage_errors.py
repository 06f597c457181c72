"""A storage error that is not a lock, inside a job's step: tried again a few times, then the job
ends ``failed`` with ``STORAGE_ERROR`` (in its history, its reservation released) and its run
ends too, never left running with its workflow in DBOS's ``ERROR``.

The error is injected at the edge: the catalog's driver "fails" the statement that records a
poll of the provider (a disk error, as SQLAlchemy raises a driver's ``OperationalError``), on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from fixtures import emulator as emulator_fixtures
from fixtures.database import postgres_database
from fixtures.emulator import EmulatorControl
from fixtures.engine import FAL_ENV, engine_settings, fal_still
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import Catalog, upgrade_database
from reelforge.catalog.checkout import busy as catalog_busy
from reelforge.emulator import EmulatorServer
from reelforge.engine.busy import STEP_ATTEMPTS
from reelforge.engine.specs import WaitPolicy
from reelforge.engine.workflows import job_workflow_id
from reelforge.services import Services, build_services, open_engine

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

PROJECT = BudgetScope("project", "harbour")
WAIT = WaitPolicy(poll_interval_s=0.1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """None: the embedded default (SQLite in the data directory); else a fresh PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    async with postgres_database() as url:
        yield url


@asynccontextmanager
async def _engine(folder: Path, base_url: str, database_url: str | None) -> AsyncIterator[Services]:
    settings = engine_settings(
        folder / "data", base_url, engine={"api_executes": True}, database_url=database_url
    )
    await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ=FAL_ENV)
    try:
        await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
        await services.budget.set_cap(PROJECT, Decimal(5), "total")
        yield services
    finally:
        await services.aclose()


@contextmanager
def _failing_polls(
    catalog: Catalog, times: int | None, *, busy: bool = False
) -> Iterator[list[int]]:
    """The statement recording a poll in a job's history fails, ``times`` times (None: every
    time) as a disk error, or (``busy``) as no pool connection in time; the list counts the
    failures."""
    failed: list[int] = []

    def fail(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if "INSERT INTO job_events" not in statement or "poll" not in _values(parameters):
            return
        if times is not None and len(failed) >= times:
            return
        failed.append(1)
        if busy:
            raise catalog_busy(0.0)
        raise OperationalError(statement, parameters, OSError(5, "disk I/O error"))

    engine = catalog.engine.sync_engine
    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", fail)


def _values(parameters: Any) -> list[Any]:
    if isinstance(parameters, dict):
        return list(parameters.values())
    if isinstance(parameters, list | tuple):
        return [v for p in parameters for v in (_values(p) if isinstance(p, dict) else [p])]
    return [parameters]


async def _start(services: Services, label: str) -> str:
    spec = fal_still(label, budget_scopes=(PROJECT.key,))
    return await services.engine.start_run("test", [spec], wait=WAIT)


async def test_a_storage_error_past_its_retries_fails_the_job_and_ends_the_run(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    database_url: str | None,
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    async with _engine(tmp_path, emulator_server.base_url, database_url) as services:
        engine = services.engine
        with _failing_polls(services.catalog, None) as failed:
            run_id = await _start(services, "doomed")
            view = await engine.wait_for_run(run_id, 60)
        assert view.done, f"run {run_id} is still {view.status}"
        assert view.status == "failed"
        job = await engine.get_job(view.jobs[0].id)
        assert job.status == "failed"
        assert job.error is not None
        assert job.error["code"] == "STORAGE_ERROR"
        # Tried again before giving up: more than one failing poll record.
        assert len(failed) > 1
        ended = [e for e in job.history or () if e["kind"] == "status"]
        assert ended[-1]["status"] == "failed"
        kinds = sorted(entry.kind for entry in await services.budget.ledger(job_id=job.id))
        assert kinds == ["release", "reserve"]
        assert (await services.budget.balance(PROJECT)).reserved_usd == 0
        events = [e.kind for e in await engine.events(run_id)]
        assert "job_failed" in events
        assert events[-1] == "completed"
        statuses = await engine.engine.workflow_statuses([job_workflow_id(job.id)])
        assert statuses[job_workflow_id(job.id)] == "SUCCESS"


async def test_a_storage_error_that_passes_is_tried_again_and_the_job_succeeds(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    database_url: str | None,
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    async with _engine(tmp_path, emulator_server.base_url, database_url) as services:
        engine = services.engine
        with _failing_polls(services.catalog, 2) as failed:
            run_id = await _start(services, "steady")
            view = await engine.wait_for_run(run_id, 60)
        assert view.done, f"run {run_id} is still {view.status}"
        assert len(failed) == 2
        assert view.status == "succeeded"
        assert len(view.jobs[0].asset_ids) == 1


async def test_a_busy_catalog_is_waited_out_past_the_fault_retries_and_the_job_succeeds(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    database_url: str | None,
) -> None:
    # CATALOG_BUSY is load (a crowd of reads holding every connection), not a fault: a step
    # waits it out like a lock, beyond the few tries a fault gets, and the paid job succeeds.
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    async with _engine(tmp_path, emulator_server.base_url, database_url) as services:
        engine = services.engine
        with _failing_polls(services.catalog, STEP_ATTEMPTS + 2, busy=True) as failed:
            run_id = await _start(services, "patient")
            view = await engine.wait_for_run(run_id, 90)
        assert view.done, f"run {run_id} is still {view.status}"
        assert len(failed) == STEP_ATTEMPTS + 2
        assert view.status == "succeeded", [job.error for job in view.jobs]
