"""Benchmark: the job engine against the emulator at 1.0 s per generation.

Run by hand from the repository root (PostgreSQL on 127.0.0.1:5432, trust auth, for the
scale-out scenario)::

    .venv/bin/python bench/engine.py [--rounds 5] [--no-postgres]

The emulator runs in a process of its own (``reelforge emulate``), every generation taking
1.0 s from submit to result. Wall time runs from ``start_run`` to the run's ``completed`` event,
which comes after every output is in the store and the catalog:

- ``embedded-12``: 12 frames (fal text-to-image, 512x384 PNG) in embedded mode (SQLite, API
  and work in this process), fal's queue at concurrency 12, webhooks to this process's API,
  polling every 2 s as the fallback. The physical limit is 1.0 s; the target 1.25 s.
- ``scaleout-100``: 100 frames through two ``reelforge worker`` processes on PostgreSQL at
  concurrency 20; this process only starts runs and takes webhooks. Ideal: 5 waves of 1.0 s.
- ``fal-client-12``: the loop a user would write with fal's official client against the same
  emulator: ``subscribe`` each frame in turn and download its image.

Results go to stdout and to ``bench/results/engine.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import fal_client
import httpx
import uvicorn
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from measure import postgres_cpu_s, process_cpu_s, report_head
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.engine.service import EngineService
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.log import configure_logging
from reelforge.providers.base import Capability
from reelforge.services import build_services, open_engine
from reelforge.settings import Settings

RESULTS = Path(__file__).parent / "results" / "engine.txt"
LATENCY_S = 1.0
FAL_KEY = "emulator-fal-key"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
FAST = {"queue_poll_s": 0.05, "events_poll_s": 0.05}


def frames(count: int) -> list[JobSpec]:
    return [
        JobSpec(
            provider="fal",
            capability=Capability.TEXT_TO_IMAGE,
            prompt=f"storyboard frame {i}: a lighthouse at dawn",
            width=512,
            height=384,
            label=f"frame-{i}",
            options={"output_format": "png"},
        )
        for i in range(count)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Emulator(NamedTuple):
    base: str
    pid: int


@dataclass
class Rounds:
    """The measured rounds of a scenario: wall, the emulator's ledger and the CPU seconds of
    each process (or group of processes) in each."""

    walls: list[float] = field(default_factory=list)
    ledgers: list[dict[str, Any]] = field(default_factory=list)
    cpu: list[dict[str, float]] = field(default_factory=list)
    #: The catalog's statements and commits in this process, per round.
    catalog: list[dict[str, float]] = field(default_factory=list)

    def cpu_ms_a_job(self, jobs: int) -> dict[str, float]:
        return {
            name: statistics.median(r[name] for r in self.cpu) * 1000 / jobs
            for name in (self.cpu[0] if self.cpu else {})
        }

    def catalog_a_job(self, jobs: int) -> dict[str, float]:
        return {
            name: statistics.median(r[name] for r in self.catalog) / jobs
            for name in (self.catalog[0] if self.catalog else {})
        }


CpuReading = Callable[[], dict[str, float]]


class StatementCount:
    """The catalog's statements and transactions (commits) in this process, counted by
    SQLAlchemy event listeners on its engine."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0

    def watch(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)

    def reading(self) -> dict[str, float]:
        return {"statements": self.statements, "commits": self.commits}

    def _statement(self, *_args: Any) -> None:
        self.statements += 1

    def _commit(self, _connection: Connection) -> None:
        self.commits += 1


_counted = StatementCount()


@asynccontextmanager
async def emulator() -> AsyncIterator[Emulator]:
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "reelforge", "emulate", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    await http.get(f"{base}/_emulator/health")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
            await http.post(f"{base}/_emulator/config", json={"latency_s": LATENCY_S})
        yield Emulator(base, child.pid)
    finally:
        child.terminate()
        child.wait()


async def reset(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        ledger: dict[str, Any] = (await http.get(f"{base}/_emulator/ledger")).json()
        await http.post(f"{base}/_emulator/reset")
        await http.post(f"{base}/_emulator/config", json={"latency_s": LATENCY_S})
    return ledger


def _api_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def api_engine(
    settings: Settings, instance: str, sock: socket.socket | None = None
) -> AsyncIterator[EngineService]:
    """Services, the API on ``sock`` (default: a free port) for webhooks, and the engine in
    role api."""
    await upgrade_database(settings.effective_database_url)
    sock = sock or _api_socket()
    port = sock.getsockname()[1]
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    services = build_services(settings, environ={"FAL_KEY": FAL_KEY})
    _counted.watch(services.catalog.engine)
    config = uvicorn.Config(create_app(services), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield await open_engine(services, "api", instance_name=instance)
    finally:
        server.should_exit = True
        await task
        sock.close()
        await services.aclose()


async def timed_runs(
    service: EngineService, count: int, rounds: int, emulated: Emulator, cpu: CpuReading
) -> Rounds:
    measured = Rounds()
    for round_index in range(rounds + 1):
        before = cpu()
        counted = _counted.reading()
        start = time.perf_counter()
        run_id = await service.start_run(
            "bench", frames(count), wait=WaitPolicy(poll_interval_s=2.0)
        )
        view = await service.wait_for_run(run_id, 120)
        wall = time.perf_counter() - start
        after = cpu()
        counted = {name: value - counted[name] for name, value in _counted.reading().items()}
        assert view.status == "succeeded", view.status
        ledger = await reset(emulated.base)
        if round_index:  # the first round warms up (queue registration, imports, caches)
            measured.walls.append(wall)
            measured.ledgers.append(ledger["providers"]["fal"])
            measured.cpu.append({name: after[name] - before[name] for name in before})
            measured.catalog.append(counted)
    return measured


async def embedded(emulated: Emulator, rounds: int, folder: Path) -> Rounds:
    settings = Settings(
        data_dir=folder / "embedded",
        auth={"enabled": False},
        ingest={"allowed_hosts": ["127.0.0.1"]},
        providers={"fal": {"base_url": f"{emulated.base}/fal"}},
        engine={**FAST, "queues": {"fal": {"concurrency": 12}}},
    )

    def cpu() -> dict[str, float]:
        return {"this process": time.process_time(), "emulator": process_cpu_s(emulated.pid)}

    async with api_engine(settings, "bench-embedded") as service:
        return await timed_runs(service, 12, rounds, emulated, cpu)


async def _admin(statement: str) -> None:
    engine = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def scale_out(emulated: Emulator, rounds: int, folder: Path) -> Rounds:
    base = emulated.base
    name = f"reelforge_bench_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    engine = {**FAST, "queues": {"fal": {"concurrency": 20}}}
    settings = Settings(
        data_dir=folder / "scale-out",
        database_url=url,
        auth={"enabled": False},
        ingest={"allowed_hosts": ["127.0.0.1"]},
        providers={"fal": {"base_url": f"{base}/fal"}},
        engine=engine,
    )
    await upgrade_database(url)
    # The workers submit, so they name the webhook URL: this process's API, bound up front.
    sock = _api_socket()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    env |= {
        "FAL_KEY": FAL_KEY,
        "REELFORGE_DATA_DIR": str(settings.data_dir),
        "REELFORGE_DATABASE_URL": url,
        "REELFORGE_LOG_LEVEL": "warning",
        "REELFORGE_INGEST__ALLOWED_HOSTS": '["127.0.0.1"]',
        "REELFORGE_PROVIDERS__FAL__BASE_URL": f"{base}/fal",
        "REELFORGE_ENGINE__QUEUES": json.dumps(engine["queues"]),
        "REELFORGE_PUBLIC_URL": f"http://127.0.0.1:{sock.getsockname()[1]}",
        **{f"REELFORGE_ENGINE__{k.upper()}": str(v) for k, v in FAST.items()},
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "reelforge", "worker", "--executor-id", f"bench-w{i}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in (1, 2)
    ]

    def cpu() -> dict[str, float]:
        return {
            "workers": sum(process_cpu_s(worker.pid) for worker in workers),
            "API (this process)": time.process_time(),
            "PostgreSQL": postgres_cpu_s(),
            "emulator": process_cpu_s(emulated.pid),
        }

    try:
        async with api_engine(settings, "reelforge", sock) as service:
            return await timed_runs(service, 100, rounds, emulated, cpu)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fal_client_loop(base: str, rounds: int, folder: Path) -> list[float]:
    """What a user writes with fal's client: one frame after the other, each downloaded."""
    fal_client.client.QUEUE_URL_FORMAT = f"{base}/fal/queue/"
    walls = []
    client = fal_client.SyncClient(key=FAL_KEY)
    try:
        with httpx.Client() as http:
            for _ in range(rounds):
                start = time.perf_counter()
                for i, spec in enumerate(frames(12)):
                    result = client.subscribe(
                        "fal-ai/flux/dev",
                        arguments={
                            "prompt": spec.prompt,
                            "image_size": {"width": spec.width, "height": spec.height},
                            "output_format": "png",
                        },
                    )
                    image = http.get(result["images"][0]["url"]).content
                    (folder / f"frame-{i}.png").write_bytes(image)
                walls.append(time.perf_counter() - start)
    finally:
        client._client.close()
    return walls


def _row(name: str, walls: list[float], ideal: float, note: str) -> str:
    median, best = statistics.median(walls), min(walls)
    runs = ", ".join(f"{w:.2f}" for w in walls)
    return (
        f"{name:<15}{median:>9.2f}{best:>8.2f}{ideal:>8.2f}{median / ideal:>9.2f}"
        f"{best / ideal:>9.2f}   {note}; runs (s): {runs}"
    )


async def main(rounds: int, postgres: bool) -> None:
    configure_logging("warning")
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="reelforge-bench-") as tmp:
        folder = Path(tmp)
        async with emulator() as emulated:
            local = await embedded(emulated, rounds, folder)
            spread = (
                await scale_out(emulated, max(rounds // 2, 3), folder) if postgres else Rounds()
            )
            await reset(emulated.base)
            sequential = await asyncio.to_thread(fal_client_loop, emulated.base, 2, folder)
    report = _report(rounds, load_start, local, spread, sequential)
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)


def _cpu_line(label: str, measured: Rounds, jobs: int) -> str:
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in measured.cpu_ms_a_job(jobs).items())
    return f"cpu:     {label}, ms a job (median round): {parts}"


def _catalog_line(label: str, measured: Rounds, jobs: int) -> str:
    counts = measured.catalog_a_job(jobs)
    return (
        f"catalog: {label}, a job (median round, this process): {counts['statements']:.1f} "
        f"statements, {counts['commits']:.1f} commits"
    )


def _report(
    rounds: int, load_start: float, local: Rounds, spread: Rounds, sequential: list[float]
) -> str:
    billed_once = all(led["billed"] == led["calls"]["submit"] for led in local.ledgers)
    max_flight: Callable[[list[Any]], int] = lambda ls: max(  # noqa: E731
        (led["max_in_flight"] for led in ls), default=0
    )
    local_median = statistics.median(local.walls)
    lines = [
        *report_head("Reelforge job engine benchmark (bench/engine.py)"),
        f"python:  {platform.python_version()}; emulator latency {LATENCY_S:.1f} s per "
        "generation, in its own process",
        f"load:    1-min load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} "
        "at the end (the machine is shared; other work adds noise)",
        "",
        f"method:  {rounds} measured rounds after a warm-up round (fewer for scale-out); wall "
        "from start_run to the run's completed event (outputs ingested and recorded).",
        "",
        "scenario        median s  best s  ideal s  median/ideal  best/ideal",
        _row("embedded-12", local.walls, LATENCY_S, "12 frames, concurrency 12, SQLite"),
    ]
    if spread.walls:
        lines.append(
            _row("scaleout-100", spread.walls, 5 * LATENCY_S, "100 frames, 2 PG workers, conc. 20")
        )
    lines.append(
        _row("fal-client-12", sequential, 12 * LATENCY_S, "fal_client.subscribe, one by one")
    )
    speedup = statistics.median(sequential) / local_median
    lines += [
        "",
        f"ratio:   sequential fal client / embedded engine, 12 frames: {speedup:.1f}x (medians)",
        f"target:  embedded-12 <= 1.25 s (median): {'met' if local_median <= 1.25 else 'MISSED'} "
        f"(median {local_median:.2f} s, best {min(local.walls):.2f} s)",
    ]
    if spread.walls:
        spread_median = statistics.median(spread.walls)
        lines.append(
            f"target:  scaleout-100 near 5 s (median): {spread_median:.2f} s, "
            f"{spread_median / (5 * LATENCY_S):.1f}x the ideal"
        )
    lines += [
        f"check:   each generation billed once (embedded): {billed_once}; max in flight "
        f"embedded {max_flight(local.ledgers)}, scale-out {max_flight(spread.ledgers)} "
        "(limits 12 and 20)",
        "",
        _cpu_line("embedded-12", local, 12),
        _catalog_line("embedded-12", local, 12),
    ]
    if spread.walls:
        lines.append(_cpu_line("scaleout-100", spread, 100))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, not args.no_postgres))
