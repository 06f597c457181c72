"""``reelforge worker`` serves its own metrics on ``engine.worker_metrics_port``: the jobs it
runs are counted in its process, so that is where Prometheus reads them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_env, engine_settings, fal_still, processes, wait_for_run_end
from fixtures.server import loopback_socket
from reelforge.catalog import Catalog, upgrade_database
from reelforge.catalog.repositories import NewJob, NewRunEvent
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import WaitPolicy

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _free_port() -> int:
    with loopback_socket() as sock:
        port: int = sock.getsockname()[1]
    return port


async def _scrape(url: str, timeout_s: float = 30) -> str:
    async with httpx.AsyncClient() as http, asyncio.timeout(timeout_s):
        while True:
            try:
                return (await http.get(url)).text
            except httpx.TransportError:
                await asyncio.sleep(0.1)


async def test_a_worker_serves_the_counts_of_the_jobs_it_ran(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    port = _free_port()
    engine = {"worker_metrics_port": port, "start_grace_s": 0.1}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    # A run recorded with its jobs and no workflow: the worker starts it when it boots.
    specs = [fal_still(f"w{i}", wait=WaitPolicy(poll_interval_s=0.1)) for i in range(2)]
    async with Catalog.from_url(settings.effective_database_url) as catalog:
        run = await catalog.runs.create(feature="metrics-test", input={})
        await catalog.jobs.create_many(
            [
                NewJob("fal", "fal-ai/flux/dev", "text_to_image", spec.model_dump(mode="json"))
                for spec in specs
            ],
            run_id=run.id,
            run_event=NewRunEvent("queued", {"jobs": 2, "priority": "batch"}, key="queued"),
        )
    await asyncio.sleep(0.2)
    with processes(tmp_path, engine_env(settings)) as group:
        group.worker("worker")
        async with Catalog.from_url(settings.effective_database_url) as catalog:
            status = await wait_for_run_end(catalog, run.id, timeout_s=90)
        assert status == "succeeded", group.log("worker")
        exposition = await _scrape(f"http://127.0.0.1:{port}/metrics")
    labels = 'feature="metrics-test",model="fal-ai/flux/dev",provider="fal"'
    assert f"reelforge_provider_submissions_total{{{labels}}} 2.0" in exposition
    assert f"reelforge_provider_successes_total{{{labels}}} 2.0" in exposition
    assert f"reelforge_provider_latency_seconds_count{{{labels}}} 2.0" in exposition
