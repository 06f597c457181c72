"""The submit window inside real job workflows (DBOS, in process; the API on loopback):

- a submit that times out after the vendor accepted it waits durably (``recover_submit``
  steps between ``recv`` waits) until the vendor lists it, adopts it, and the job finishes
  with one bill;
- the same with a vendor that calls back: the callback, posted to our webhook route with the
  job in its query, ends the wait;
- a Google still (the emulator's ``generateContent``) is stored by the submit step: the
  workflow neither polls nor fetches, and a new process's submit step finds the result in
  the catalog instead of "not held here".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from dbos import DBOS

from engine.submit_support import TOY_WINDOW_CLASSES, HookToy, LookupToy, ToyVendor, hook_body
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import FAST_ENGINE, wait_until
from fixtures.server import loopback_socket, serve_app, socket_url
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.engine.events import RunEvents
from reelforge.engine.operations import EngineDeps, JobOperations
from reelforge.engine.outcomes import Submitted
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.engine.workflows import job_workflow_id
from reelforge.errors import ProviderTimeout
from reelforge.providers.base import Capability, ProviderDeps
from reelforge.providers.registry import ProviderRegistry
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

WAIT = WaitPolicy(poll_interval_s=0.1)
GOOGLE_ENV = {"GEMINI_API_KEY": "gemini-engine-key"}


@asynccontextmanager
async def engine_services(
    tmp_path: Path,
    *,
    providers: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[Services, str]]:
    """Services over the toy providers too, the API on loopback as the webhook base URL, and
    an engine in this process."""
    sock = loopback_socket()
    engine = FAST_ENGINE | {"orphan_wait_s": 60.0}
    settings = Settings(
        public_url=socket_url(sock),
        data_dir=tmp_path / "data",
        auth={"enabled": False},
        ingest={"allowed_hosts": ["127.0.0.1"]},
        engine=engine,
        providers=dict(providers or {}),
    )
    await upgrade_database(settings.effective_database_url)
    services = build_services(
        settings, environ=dict(environ or {}), provider_classes=TOY_WINDOW_CLASSES
    )
    try:
        async with serve_app(create_app(services), sock) as base_url:
            await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
            yield services, base_url
    finally:
        await services.aclose()


def toy_still(provider: str) -> JobSpec:
    return JobSpec(
        provider=provider,
        capability=Capability.TEXT_TO_IMAGE,
        prompt="a harbour at dusk",
        width=64,
        height=48,
        label="still",
    )


async def _steps(job_id: str) -> list[str]:
    return [
        s["function_name"] for s in await DBOS.list_workflow_steps_async(job_workflow_id(job_id))
    ]


async def test_a_timed_out_submit_waits_for_the_listing_and_pays_once(tmp_path: Path) -> None:
    vendor = ToyVendor(time.time, hidden_lookups=2)
    vendor.fail_after_accept = ProviderTimeout("slow", provider="toy_lookup")
    LookupToy.vendor = vendor
    async with engine_services(tmp_path) as (services, _):
        run_id = await services.engine.start_run("test", [toy_still("toy_lookup")], wait=WAIT)
        view = await services.engine.wait_for_run(run_id, 30)
        assert view.status == "succeeded", view
        [job] = view.jobs
        steps = await _steps(job.id)
    assert len(vendor.accepted) == 1
    assert vendor.lookups == 3
    assert steps.count("reelforge.job.recover_submit") == 3
    assert "reelforge.job.retrying" not in steps


async def test_a_callback_to_our_route_ends_the_wait(tmp_path: Path) -> None:
    vendor = ToyVendor(time.time)
    vendor.fail_after_accept = ProviderTimeout("slow", provider="toy_hook")
    HookToy.vendor = vendor
    async with engine_services(tmp_path) as (services, base_url):
        run_id = await services.engine.start_run("test", [toy_still("toy_hook")], wait=WAIT)
        await wait_until(lambda: len(vendor.accepted) == 1)
        [lost] = vendor.accepted
        assert lost.request.webhook_url is not None
        assert lost.request.webhook_url.startswith(f"{base_url}/webhooks/toy_hook?job=")
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            answer = (
                await http.post(lost.request.webhook_url, content=hook_body(lost.request_id))
            ).json()
        assert answer["adopted"] is True
        view = await services.engine.wait_for_run(run_id, 30)
        assert view.status == "succeeded", view
        [job] = view.jobs
        assert answer["job_id"] == job.id
        record = await services.catalog.jobs.get(job.id)
    assert record.provider_request_id == lost.request_id
    assert len(vendor.accepted) == 1


async def test_a_google_still_is_kept_by_the_submit_step(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    google = {"google": {"base_url": f"{emulator.base_url}/google", "timeout_s": 10}}
    spec = JobSpec(
        provider="google",
        capability=Capability.TEXT_TO_IMAGE,
        prompt="a harbour at dusk",
        width=512,
        height=288,
        label="still",
    )
    async with engine_services(tmp_path, providers=google, environ=GOOGLE_ENV) as (services, _):
        run_id = await services.engine.start_run("test", [spec], wait=WAIT)
        view = await services.engine.wait_for_run(run_id, 30)
        assert view.status == "succeeded", view
        [job] = view.jobs
        steps = await _steps(job.id)
        assert "reelforge.job.poll" not in steps
        assert "reelforge.job.fetch" not in steps
        assert len(job.asset_ids) == 1
        # A second still, submitted by hand: a new process's step finds it in the catalog.
        record = await services.catalog.jobs.create(
            provider="google",
            model="m",
            capability="text_to_image",
            request=spec.model_dump(mode="json"),
        )
        submitted = await _ops(services, GOOGLE_ENV).submit(record.id, spec, 1)
        assert isinstance(submitted, Submitted)
        assert submitted.result is not None
        again = await _ops(services, GOOGLE_ENV).submit(record.id, spec, 1)
        assert isinstance(again, Submitted)
        assert again == submitted.model_copy(update={"at": again.at})
    calls = (await emulator.ledger("google"))["providers"]["google"]["calls"]
    assert sum(calls.values()) == 2


def _ops(services: Services, environ: Mapping[str, str]) -> JobOperations:
    """The operations of a new process: adapters that hold nothing yet."""
    registry = ProviderRegistry(
        services.settings, ProviderDeps(http=services.http, environ=environ), TOY_WINDOW_CLASSES
    )
    return JobOperations(
        EngineDeps(
            catalog=services.catalog,
            assets=services.assets,
            store=services.store,
            providers=registry,
            events=RunEvents(services.catalog, poll_s=0.1),
            webhook_base_url=None,
            budget=services.budget,
        )
    )
