"""``kill -9`` of ``reelforge serve`` at each point of ``POST /v1/keyframes``: every run either
does not exist or finishes, and every generation is billed once.

The points are those of :mod:`reelforge.engine.faults`. For each in turn, a ``serve`` armed at
that point takes a 6-frame request (fal, on the emulator) and freezes there; the test kills it.
The next ``serve`` (armed at the next point; the last one unarmed) comes up, and the run left
behind must end as its point says:

- ``before_catalog_write``: there is no run;
- ``between_run_and_jobs``: the run, recorded without jobs, is dropped;
- ``before_enqueue``: the run, recorded with its jobs but no workflow, is started and succeeds;
- ``after_enqueue``: the run's workflow goes on and the run succeeds.

On SQLite, ``serve`` runs the work (embedded) and takes the runs a dead process left at boot,
under the default grace period. On PostgreSQL, ``serve`` only enqueues and two workers run the
work: their reapers start (or drop) runs left without a workflow once past a 2 s grace.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.database import postgres_database
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    Processes,
    engine_env,
    engine_settings,
    processes,
    wait_for_file,
    wait_for_run_end,
    wait_until,
)
from fixtures.server import loopback_socket
from keyframes.keyframes_support import storyboard
from reelforge.catalog import Catalog, upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.engine.faults import FAULT_MARKER_ENV, FAULT_POINT_ENV
from reelforge.errors import NotFound
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

POINTS = ("before_catalog_write", "between_run_and_jobs", "before_enqueue", "after_enqueue")
FRAMES = 6


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        await upgrade_database(url)
        yield url


def _free_port() -> int:
    sock = loopback_socket()
    try:
        return int(sock.getsockname()[1])
    finally:
        sock.close()


class Servers:
    """``reelforge serve`` processes, one after another, each armed at a point or not."""

    def __init__(self, group: Processes, folder: Path, http: httpx.AsyncClient) -> None:
        self._group = group
        self._folder = folder
        self._http = http
        self.count = 0

    async def start(self, point: str | None) -> tuple[subprocess.Popen[bytes], str, Path]:
        """A serve armed at ``point`` (None: unarmed), once it answers; its URL, its marker."""
        self.count += 1
        name, port = f"serve-{self.count}", _free_port()
        marker = self._folder / f"{name}.fault.json"
        env = {"REELFORGE_SERVER__HOST": "127.0.0.1", "REELFORGE_SERVER__PORT": str(port)}
        if point is not None:
            env |= {FAULT_POINT_ENV: point, FAULT_MARKER_ENV: str(marker)}
        child = self._group.start(name, "-m", "reelforge", "serve", env=env)
        base_url = f"http://127.0.0.1:{port}"
        async with asyncio.timeout(60):
            while True:
                assert child.poll() is None, self._group.log(name)
                try:
                    if (await self._http.get(f"{base_url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        return child, base_url, marker


async def _gone(catalog: Catalog, run_id: str) -> bool:
    try:
        await catalog.runs.get(run_id)
    except NotFound:
        return True
    return False


async def _settled(catalog: Catalog, point: str, run_id: str | None) -> str | None:
    """Wait until the run left at ``point`` has ended as the point says; the id of a run that
    remains (and succeeded)."""
    if point == "before_catalog_write":
        assert run_id is None
        return None
    assert run_id is not None
    if point == "between_run_and_jobs":
        await wait_until(lambda: _gone(catalog, run_id), timeout_s=60)
        return None
    status = await wait_for_run_end(catalog, run_id, timeout_s=60)
    jobs = await catalog.jobs.list_for_run(run_id)
    assert status == "succeeded", (point, [(j.status, j.error_message) for j in jobs])
    assert len(jobs) == FRAMES
    assert all(job.status == "succeeded" and len(job.asset_ids) == 1 for job in jobs)
    return run_id


async def _left_behind(catalog: Catalog, point: str, run_id: str | None) -> None:
    """What a kill at ``point`` leaves in the catalog, when nothing else runs (SQLite)."""
    if run_id is None:
        return
    run = await catalog.runs.get(run_id)
    jobs = await catalog.jobs.list_for_run(run_id)
    assert run.status == "pending", point
    assert len(jobs) == (0 if point == "between_run_and_jobs" else FRAMES), point


async def _kill_at_every_point(
    settings: Settings,
    folder: Path,
    emulator: EmulatorControl,
    *,
    workers: tuple[str, ...],
    exact_leftovers: bool,
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    env = engine_env(settings) | {
        "REELFORGE_KEYFRAMES__POLL_INTERVAL_S": "0.1",
        "REELFORGE_KEYFRAMES__RETRY_BACKOFF_S": "0.05",
    }
    remaining: set[str] = set()
    async with (
        Catalog.from_url(settings.effective_database_url) as catalog,
        httpx.AsyncClient(timeout=60, trust_env=False) as http,
    ):
        with processes(folder, env) as group:
            for name in workers:
                group.worker(name, executor_id=name)
            servers = Servers(group, folder, http)
            left: tuple[str, str | None] | None = None
            for point in (*POINTS, None):
                serve, base_url, marker = await servers.start(point)
                if left is not None:
                    kept = await _settled(catalog, *left)
                    remaining |= {kept} if kept else set()
                if point is None:
                    break
                body = storyboard(FRAMES, provider="fal", seed=len(remaining))
                request = asyncio.create_task(
                    http.post(f"{base_url}/v1/keyframes", json=body, params={"wait_s": 0})
                )
                run_id = json.loads(await wait_for_file(marker))["run_id"]
                group.kill(serve)
                # The request never got an answer: the process died at the point.
                with pytest.raises(httpx.TransportError):
                    await request
                if exact_leftovers:
                    await _left_behind(catalog, point, run_id)
                left = (point, run_id)
            runs = await catalog.runs.list(limit=100)
    assert {run.id for run in runs} == remaining
    assert len(remaining) == 2
    ledger = await emulator.ledger("fal")
    billed = [entry["request_id"] for entry in ledger["billed"]]
    assert len(billed) == len(set(billed)) == 2 * FRAMES
    assert ledger["providers"]["fal"]["calls"]["submit"] == 2 * FRAMES


async def test_sqlite_serve_killed_at_each_point_of_a_keyframes_request(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    assert settings.engine.start_grace_s == 60  # the default: the boot pass does not wait
    await upgrade_database(settings.effective_database_url)
    await _kill_at_every_point(settings, tmp_path, emulator, workers=(), exact_leftovers=True)


@pytest.mark.postgres
async def test_postgres_serve_killed_at_each_point_with_two_workers(
    tmp_path: Path, pg_url: str, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = engine_settings(
        tmp_path / "data",
        emulator_server.base_url,
        engine={"start_grace_s": 2.0},
        database_url=pg_url,
    )
    await _kill_at_every_point(
        settings, tmp_path, emulator, workers=("w1", "w2"), exact_leftovers=False
    )
