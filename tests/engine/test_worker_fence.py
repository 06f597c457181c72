"""A worker taken for dead while it was only slow is fenced: on SQLite and PostgreSQL.

The two-worker crash campaign on a loaded machine found workers whose heartbeat came late being
reaped while they still ran their workflows, so the same submit ran in two processes and fal,
Replicate and Leonardo jobs were billed twice. Here, over the toy vendors of ``submit_support``:

- the catalog: a reaped incarnation's beats and fenced writes are refused, also after its
  reaper gave the claim back; a restart (a new incarnation) writes again;
- the submit step: a fenced worker sends nothing, or records nothing of what it sent, and
  stops; the worker that took the job over adopts that submission where the vendor can be
  asked, or records the possible double charge where it cannot;
- the heartbeat: a beat that finds the worker reaped stops it;
- ingest: a second run of the same output step keeps the first one's files.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from engine.submit_support import (
    TOY_WINDOW_CLASSES,
    Accepted,
    BlindToy,
    HookToy,
    LookupToy,
    SyncToy,
    ToyVendor,
)
from fixtures import database as database_fixtures
from media.media_support import png_bytes
from reelforge.budget.scopes import BudgetScope
from reelforge.catalog import Catalog
from reelforge.catalog.records import WorkerFence
from reelforge.engine.events import RunEvents
from reelforge.engine.intents import SubmitHistory
from reelforge.engine.lease import WorkerLease
from reelforge.engine.operations import EngineDeps, JobOperations
from reelforge.engine.outcomes import Submitted
from reelforge.engine.reaper import PendingWorkflow, Reaper, claim_executor_id
from reelforge.engine.specs import JobSpec
from reelforge.errors import WorkerFenced
from reelforge.providers.base import Capability
from reelforge.services import Services, build_services
from reelforge.settings import Settings

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url

PROJECT = BudgetScope("project", "harbour")


def _now() -> datetime:
    return datetime.now(UTC)


async def _start(catalog: Catalog, executor_id: str, incarnation: str) -> None:
    await claim_executor_id(
        catalog.workers,
        executor_id=executor_id,
        incarnation=incarnation,
        role="worker",
        app_version="v1",
        stale_after_s=30,
        now=_now,
    )


async def _reap(catalog: Catalog, executor_id: str, *, reaper: str = "w1") -> None:
    row = await catalog.workers.get(executor_id)
    assert row is not None
    assert await catalog.workers.claim(executor_id, row.beat_at, reaper=reaper)


@dataclass
class Stops:
    """A lease's fail-stop action, counted instead of exiting the test process."""

    calls: int = 0

    def __call__(self) -> None:
        self.calls += 1


@dataclass
class Fenced:
    services: Services
    vendor: ToyVendor
    stops: Stops = field(default_factory=Stops)

    @property
    def catalog(self) -> Catalog:
        return self.services.catalog

    def worker(self, executor_id: str, incarnation: str) -> JobOperations:
        """The job operations of a worker process holding ``executor_id``."""
        lease = WorkerLease(self.stops)
        lease.hold(executor_id, incarnation, None)
        return JobOperations(
            EngineDeps(
                catalog=self.services.catalog,
                assets=self.services.assets,
                store=self.services.store,
                providers=self.services.providers,
                events=RunEvents(self.services.catalog, poll_s=0.1),
                webhook_base_url="http://127.0.0.1:9",
                budget=self.services.budget,
                orphan_wait_s=30.0,
                lease=lease,
            )
        )

    async def job(self, provider: str) -> tuple[str, JobSpec]:
        spec = JobSpec(
            provider=provider,
            capability=Capability.TEXT_TO_IMAGE,
            prompt="a harbour at dusk",
            width=64,
            height=48,
            label="f0",
            budget_scopes=(PROJECT.key,),
        )
        job = await self.catalog.jobs.create(
            provider=provider,
            model="toy-still-1",
            capability="text_to_image",
            request=spec.model_dump(mode="json"),
        )
        return job.id, spec


@pytest.fixture
async def fenced(database_url: str, tmp_path: Path) -> AsyncIterator[Fenced]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    services = build_services(settings, environ={}, provider_classes=TOY_WINDOW_CLASSES)
    vendor = ToyVendor(time.time)
    for cls in (BlindToy, LookupToy, HookToy, SyncToy):
        cls.vendor = vendor
    try:
        await _start(services.catalog, "w0", "a")
        await _start(services.catalog, "w1", "b")
        yield Fenced(services, vendor)
    finally:
        await services.aclose()


async def test_a_reaped_incarnation_writes_nothing_until_it_starts_again(fenced: Fenced) -> None:
    catalog = fenced.catalog
    job_id, _ = await fenced.job("toy_lookup")
    fence = WorkerFence("w0", "a")
    await catalog.jobs.append_event(job_id, "note", {"n": 1}, fence=fence)
    await _reap(catalog, "w0")
    with pytest.raises(WorkerFenced):
        await catalog.jobs.append_event(job_id, "note", {"n": 2}, fence=fence)
    with pytest.raises(WorkerFenced):
        await catalog.jobs.transition(job_id, "running", provider_request_id="r", fence=fence)
    assert not await catalog.workers.beat("w0", "a")
    # Its reaper gives the claim back (a failed take-over): that incarnation stays fenced.
    await catalog.workers.release("w0", reaper="w1")
    assert not await catalog.workers.beat("w0", "a")
    with pytest.raises(WorkerFenced):
        await catalog.jobs.append_event(job_id, "note", {"n": 3}, fence=fence)
    notes = [e.payload for e in await catalog.jobs.events(job_id) if e.kind == "note"]
    assert notes == [{"n": 1}]
    assert (await catalog.jobs.get(job_id)).status == "queued"
    # Started again: the new incarnation writes, the old one still cannot.
    await _start(catalog, "w0", "c")
    restarted = WorkerFence("w0", "c")
    await catalog.jobs.append_event(job_id, "note", {"n": 4}, fence=restarted)
    with pytest.raises(WorkerFenced):
        await catalog.jobs.append_event(job_id, "note", {"n": 5}, fence=fence)


async def test_a_fenced_worker_sends_nothing_and_the_new_owner_pays_once(fenced: Fenced) -> None:
    job_id, spec = await fenced.job("toy_lookup")
    await _reap(fenced.catalog, "w0")
    with pytest.raises(WorkerFenced):
        await fenced.worker("w0", "a").submit(job_id, spec, 1)
    assert fenced.stops.calls == 1
    assert fenced.vendor.billed == []
    history = SubmitHistory(await fenced.catalog.jobs.events(job_id))
    assert history.intent(1) is None
    submitted = await fenced.worker("w1", "b").submit(job_id, spec, 1)
    assert isinstance(submitted, Submitted)
    assert fenced.vendor.billed == [submitted.handle.request_id]


@pytest.mark.parametrize("provider", ["toy_lookup", "toy_blind"])
async def test_reaped_during_the_call_the_submission_is_adopted_or_recorded(
    fenced: Fenced, provider: str
) -> None:
    """Reaped between the intent and the answer: the slow worker records nothing of what it
    sent; the new owner finds it in the listing, or pays again knowingly."""
    job_id, spec = await fenced.job(provider)

    async def reaped_meanwhile(_: Accepted) -> None:
        await _reap(fenced.catalog, "w0")

    fenced.vendor.on_accept = reaped_meanwhile
    with pytest.raises(WorkerFenced):
        await fenced.worker("w0", "a").submit(job_id, spec, 1)
    fenced.vendor.on_accept = None
    assert fenced.stops.calls == 1
    (first,) = fenced.vendor.billed
    job = await fenced.catalog.jobs.get(job_id)
    assert (job.status, job.provider_request_id) == ("queued", None)
    submitted = await fenced.worker("w1", "b").submit(job_id, spec, 1)
    assert isinstance(submitted, Submitted)
    reservations = {e.reservation_id for e in await fenced.services.budget.ledger(job_id=job_id)}
    if provider == "toy_lookup":
        assert fenced.vendor.billed == [first]
        assert submitted.handle.request_id == first
        assert len(reservations) == 1
        return
    # No way to ask: billed twice, and both charges are on record (never released at $0).
    assert len(fenced.vendor.billed) == 2
    assert submitted.handle.request_id == fenced.vendor.billed[1]
    settled = [await fenced.services.budget.get_reservation(r) for r in reservations]
    possibly = [r for r in settled if (r.reason or "").startswith("possibly billed twice")]
    assert len(possibly) == 1
    assert (possibly[0].status, possibly[0].charged_usd > Decimal(0)) == ("settled", True)


async def test_a_beat_that_finds_the_worker_reaped_stops_it(fenced: Fenced) -> None:
    stops = Stops()
    lease = WorkerLease(stops)
    lease.hold("w0", "a", None)
    reaper = Reaper(
        fenced.catalog.workers,
        _NoRecovery(),
        executor_id="w0",
        incarnation="a",
        workflow_version="v1",
        heartbeat_s=0.05,
        stale_after_s=30,
        attempts=1,
        now=_now,
        lease=lease,
    )
    await _reap(fenced.catalog, "w0")
    await asyncio.wait_for(reaper.run(), timeout=10)
    assert (stops.calls, lease.lost_at) == (1, "heartbeat")


class _NoRecovery:
    async def recover(self, executor_id: str) -> int:
        raise AssertionError("nothing is reaped here")

    async def pending(self, executor_id: str) -> list[PendingWorkflow]:
        raise AssertionError("nothing is reaped here")


async def test_a_second_ingest_of_the_same_output_keeps_the_first_ones_files(
    fenced: Fenced,
) -> None:
    assets = fenced.services.assets
    data = png_bytes(64, 48)
    first, second = await asyncio.gather(
        assets.ingest_bytes(data, asset_id="a" * 32),
        assets.ingest_bytes(data, asset_id="a" * 32),
        return_exceptions=True,
    )
    assert not isinstance(first, BaseException), first
    assert not isinstance(second, BaseException), second
    assert first.id == second.id == "a" * 32
    stored = await fenced.services.store.get_bytes(first.key)
    assert stored == data
    assert first.thumbnail_key is not None
    assert await fenced.services.store.exists(first.thumbnail_key)
