"""Benchmark: plain reads (and a mix with writes) against one API process, many clients.

Run by hand from the repository root::

    .venv/bin/python bench/reads.py [--seconds 60] [--clients 200] [--database sqlite|...]

``reelforge serve`` runs in a child process (as a user runs it: on SQLite the engine embedded, on
PostgreSQL a scratch database at ``127.0.0.1:5432`` holding the catalog and DBOS). Before the
load, this process seeds the catalog directly: ``--runs`` runs of ``--jobs`` jobs, each job with
an output asset, and ``--characters`` characters of ``--images`` images each. Then, with
asyncio clients (httpx, one connection each) on loopback, per database:

- ``1 client``: reads back to back for ``--seconds``: the throughput of one client;
- ``reads``: ``--clients`` clients reading back to back for ``--seconds``;
- ``mix``: the same with one request in ten a write (create or rename a character).

A read is ``GET /v1/runs/{id}`` (a run and its jobs) or ``GET /v1/characters/{id}/images``,
half each. Meanwhile ``GET /healthz`` is asked every 50 ms on a connection of its own.

The floor: the same clients against a bare FastAPI route (no dependency, no catalog) served by
uvicorn as ``reelforge serve`` serves the API, on the same machine in the same run: what one
process of this stack answers at best; each phase is also reported as a share of it.

Goals: no error, read p99 < 200 ms, healthz p99 < 50 ms. Results go to stdout and
``bench/results/reads.txt`` (each database's section replaced, the others kept).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cutscene_burst import Server, _free_port, scratch_database
from measure import git_describe, process_cpu_s, replace_section, report_head
from reelforge.catalog import Catalog
from reelforge.catalog.repositories import NewJob
from reelforge.features.characters.repository import CharacterRepository

RESULTS = Path(__file__).parent / "results" / "reads.txt"
HEALTH_EVERY_S = 0.05
SECTIONS = ("floor", "sqlite", "postgresql")
SHA = "0" * 64
API_HEALTH = "/healthz"
NO_KEEPALIVE = httpx.Limits(max_connections=1, max_keepalive_connections=0)

FLOOR_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()

@app.get("/v1/floor")
async def floor() -> dict[str, str]:
    return {"status": "ok"}

@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


@dataclass
class Phase:
    """One load: every answer's time and status, and healthz's meanwhile."""

    name: str
    clients: int
    seconds: float = 0.0
    reads: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    listener: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    server_cpu_s: float = 0.0

    @property
    def answered(self) -> int:
        return len(self.reads) + len(self.writes)

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(count for code, count in self.statuses.items() if code >= 400) + len(
            [e for e in self.errors if e.startswith("transport")]
        )


Request = Callable[[httpx.AsyncClient, random.Random], Awaitable[tuple[bool, httpx.Response]]]


@dataclass
class Seeded:
    runs: list[str]
    characters: list[str]


async def seed(url: str, options: argparse.Namespace) -> Seeded:
    """Runs with jobs and outputs, characters with images: written straight to the catalog."""
    async with Catalog.from_url(url) as catalog:
        characters = CharacterRepository.on(catalog)
        runs: list[str] = []
        for r in range(options.runs):
            run = await catalog.runs.create(feature="keyframes", input={"seed": r})
            new = [
                NewJob("local", "studio", "image", {"label": f"frame {j}", "prompt": "a frame"})
                for j in range(options.jobs)
            ]
            jobs = await catalog.jobs.create_many(new, run_id=run.id)
            for job in jobs:
                await catalog.assets.add(
                    key=f"runs/{run.id}/{job.id}.png",
                    content_type="image/png",
                    kind="image",
                    size_bytes=1000,
                    sha256=SHA,
                    source="provider",
                    width=512,
                    height=512,
                    job_id=job.id,
                )
                await catalog.run_events.append(run.id, "job_started", {}, job_id=job.id)
            runs.append(run.id)
        ids: list[str] = []
        for c in range(options.characters):
            character = await characters.create(name=f"Character {c}")
            for i in range(options.images):
                asset = await catalog.assets.add(
                    key=f"characters/{character.id}/{i}.png",
                    content_type="image/png",
                    kind="image",
                    size_bytes=1000,
                    sha256=SHA,
                    source="provider",
                    width=512,
                    height=512,
                )
                await characters.add_image(
                    character_id=character.id,
                    asset_id=asset.id,
                    kind="reference" if i == 0 else "portfolioItem",
                    provider="local",
                    prompt=f"angle {i}",
                )
            ids.append(character.id)
    return Seeded(runs, ids)


def requests_for(spec: dict[str, Any]) -> Request:
    """What a client of ``spec`` sends: the floor's route, or reads (and writes) of the seeds."""
    runs, characters, write_share = spec["runs"], spec["characters"], spec["write_share"]

    async def one(http: httpx.AsyncClient, rng: random.Random) -> tuple[bool, httpx.Response]:
        if spec["floor"]:
            return False, await http.get("/v1/floor")
        if rng.random() < write_share:
            if rng.random() < 0.5:
                return True, await http.post("/v1/characters", json={"name": "bench"})
            body = {"description": f"renamed {rng.random()}"}
            return True, await http.patch(f"/v1/characters/{rng.choice(characters)}", json=body)
        if rng.random() < 0.5:
            return False, await http.get(f"/v1/runs/{rng.choice(runs)}")
        return False, await http.get(f"/v1/characters/{rng.choice(characters)}/images")

    return one


async def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One client process: ``spec["clients"]`` clients sending back to back, or (``probes``)
    healthz asked every 50 ms at each URL, from ``start_at`` for ``seconds``."""
    found: dict[str, Any] = {"reads": [], "writes": [], "statuses": {}, "errors": [], "probes": {}}
    request = requests_for(spec)
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    stop = asyncio.Event()

    async def client(index: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(index)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                wrote, response = await request(http, rng)
            except httpx.HTTPError as exc:
                found["errors"].append(f"transport: {type(exc).__name__}")
                continue
            found["writes" if wrote else "reads"].append(time.perf_counter() - started)
            code = str(response.status_code)
            found["statuses"][code] = found["statuses"].get(code, 0) + 1
            if response.status_code >= 400 and len(found["errors"]) < 20:
                found["errors"].append(f"{code} {response.text[:200]}")

    async def probe(url: str, keepalive: bool) -> None:
        limits = one if keepalive else NO_KEEPALIVE
        into = found["probes"].setdefault(url, [])
        async with httpx.AsyncClient(timeout=120, limits=limits, trust_env=False) as http:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    response = await http.get(url)
                except httpx.HTTPError as exc:
                    found["errors"].append(f"transport ({url}): {type(exc).__name__}")
                    continue
                into.append(time.perf_counter() - started)
                if response.status_code != 200:
                    found["errors"].append(f"{url}: {response.status_code}")
                await asyncio.sleep(HEALTH_EVERY_S)

    # A client each: one httpx pool of many connections spends more CPU finding a free
    # connection than the server spends answering.
    async with contextlib.AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=spec["base_url"], timeout=120, limits=one, trust_env=False
                )
            )
            for _ in range(spec["clients"])
        ]
        await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
        tasks = [
            asyncio.create_task(client(spec["first_client"] + i, http))
            for i, http in enumerate(https)
        ]
        tasks.extend(asyncio.create_task(probe(url, keep)) for url, keep in spec["probes"])
        await asyncio.sleep(spec["seconds"])
        stop.set()
        await asyncio.gather(*tasks)
    return found


async def load(
    name: str, clients: int, options: argparse.Namespace, spec: dict[str, Any], server_pid: int
) -> Phase:
    """``clients`` clients in ``options.client_processes`` processes, and one more process
    probing healthz (``spec["probes"]``), so that no probe waits behind the clients' own
    event loop; the server's CPU seconds meanwhile."""
    phase = Phase(name, clients)
    processes = max(1, min(options.client_processes, clients))
    start_at = time.time() + 3.0  # every process started and connected by then
    specs = [
        {
            **spec,
            "clients": clients // processes + (1 if index < clients % processes else 0),
            "first_client": index * 1000,
            "probes": [],
            "start_at": start_at,
            "seconds": options.seconds,
        }
        for index in range(processes)
    ]
    specs.append({**spec, "clients": 0, "first_client": 0, "start_at": start_at})
    specs[-1]["seconds"] = options.seconds
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--worker", json.dumps(one), stdout=subprocess.PIPE
        )
        for one in specs
    ]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    cpu = process_cpu_s(server_pid)
    outputs = [await child.communicate() for child in children]
    phase.server_cpu_s = process_cpu_s(server_pid) - cpu
    phase.seconds = options.seconds
    for stdout, _ in outputs:
        found = json.loads(stdout)
        phase.reads.extend(found["reads"])
        phase.writes.extend(found["writes"])
        phase.errors.extend(found["errors"])
        for code, count in found["statuses"].items():
            phase.statuses[int(code)] = phase.statuses.get(int(code), 0) + count
        for url, values in found["probes"].items():
            on_api = url.startswith(spec["base_url"])
            (phase.health if on_api else phase.listener).extend(values)
    return phase


def _spec(
    base_url: str,
    *,
    floor: bool,
    seeded: Seeded | None,
    write_share: float = 0.0,
    probes: list[tuple[str, bool]],
) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "floor": floor,
        "runs": seeded.runs if seeded else [],
        "characters": seeded.characters if seeded else [],
        "write_share": write_share,
        "probes": probes,
    }


async def floor(options: argparse.Namespace) -> list[Phase]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    child = subprocess.Popen([sys.executable, "-c", FLOOR_APP, str(port)])
    try:
        await _wait_healthy(base_url)
        spec = _spec(base_url, floor=True, seeded=None, probes=[(base_url + API_HEALTH, True)])
        return [
            await load("1 client", 1, options, spec, child.pid),
            await load("reads", options.clients, options, spec, child.pid),
        ]
    finally:
        child.terminate()
        child.wait()


async def _wait_healthy(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
        for _ in range(600):
            try:
                if (await http.get(API_HEALTH)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the floor server did not start")


async def database_phases(database: str, options: argparse.Namespace) -> tuple[list[Phase], str]:
    health_port = _free_port()
    extra = {"REELFORGE_SERVER__HEALTH_PORT": str(health_port)} if options.health_port else {}
    extra.update(item.split("=", 1) for item in options.server_env)
    with tempfile.TemporaryDirectory(prefix="reelforge-reads-") as folder:
        async with scratch_database(database) as url:
            server = Server(Path(folder), url, extra)
            try:
                await server.start()
                assert server.child is not None
                pid = server.child.pid
                catalog_url = url or f"sqlite+aiosqlite:///{Path(folder) / 'data' / 'reelforge.db'}"
                seeded = await seed(catalog_url, options)
                probes = [(server.base_url + API_HEALTH, True)]
                if options.health_port:
                    probes.append((f"http://127.0.0.1:{health_port}{API_HEALTH}", False))
                reads = _spec(server.base_url, floor=False, seeded=seeded, probes=probes)
                mix = {**reads, "write_share": options.write_share}
                phases = [
                    await load("1 client", 1, options, reads, pid),
                    await load("reads", options.clients, options, reads, pid),
                    await load("mix", options.clients, options, mix, pid),
                ]
            finally:
                server.stop()
            log = server.log()
    logged = log.count("api.unhandled_error") + log.count("api.server_error")
    return phases, f"logged by the server as 5xx: {logged}"


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {statistics.median(values) * 1000:7.1f}  p99 {_quantile(values, 0.99) * 1000:7.1f}"
        f"  max {max(values) * 1000:7.1f} ms (n={len(values)})"
    )


def _phase_lines(phase: Phase, floor_rate: dict[str, float]) -> list[str]:
    share = ""
    base = floor_rate.get("1 client" if phase.clients == 1 else "reads")
    if base:
        share = f" ({phase.rate / base:.0%} of the floor)"
    lines = [
        f"{phase.name:<9} {phase.clients:>3} clients  {phase.rate:7.1f} req/s{share}; "
        f"server CPU {phase.server_cpu_s / phase.seconds:.2f} cores; "
        f"answers {dict(sorted(phase.statuses.items()))}",
        f"  reads   {_ms(phase.reads)}",
    ]
    if phase.writes:
        lines.append(f"  writes  {_ms(phase.writes)}")
    lines.append(f"  healthz {_ms(phase.health)} (API port)")
    if phase.listener:
        lines.append(f"  healthz {_ms(phase.listener)} (server.health_port)")
    lines.extend(f"  error: {error}" for error in phase.errors[:5])
    return lines


def _goals(phases: list[Phase]) -> str:
    loaded = [p for p in phases if p.clients > 1]
    errors = sum(p.failed for p in phases)
    read_p99 = max((_quantile(p.reads, 0.99) for p in loaded if p.reads), default=float("inf"))
    probes = [p.listener or p.health for p in loaded]
    where = "server.health_port" if any(p.listener for p in loaded) else "the API port"
    health_p99 = max((_quantile(probe, 0.99) for probe in probes if probe), default=0.0)

    def met(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    return (
        f"goals     0 errors: {met(errors == 0)} ({errors}); read p99 < 200 ms: "
        f"{met(read_p99 < 0.2)} ({read_p99 * 1000:.0f} ms); healthz p99 < 50 ms: "
        f"{met(health_p99 < 0.05)} ({health_p99 * 1000:.0f} ms, on {where})"
    )


async def main(options: argparse.Namespace) -> None:
    load_start = os.getloadavg()
    databases = ["sqlite", "postgresql"] if options.database == "both" else [options.database]
    floor_phases = await floor(options)
    floor_rate = {phase.name: phase.rate for phase in floor_phases}
    sections: dict[str, list[str]] = {"floor": ["## floor (a bare FastAPI route, same server)"]}
    for phase in floor_phases:
        sections["floor"].extend(_phase_lines(phase, {}))
    for database in databases:
        phases, logged = await database_phases(database, options)
        sections[database] = [
            f"## {database}",
            *(line for phase in phases for line in _phase_lines(phase, floor_rate)),
            f"server    {logged}",
            _goals(phases),
        ]
    load_end = os.getloadavg()
    listener_note = ""
    if options.health_port:
        listener_note = ", and on server.health_port (a new connection each time)"
    head = [
        *report_head("Reelforge read benchmark (bench/reads.py)"),
        f"code:    {options.code or git_describe()}; python {platform.python_version()}",
        f"load:    load average {_load(load_start)} at the start, {_load(load_end)} at the end "
        "of the last run (shared machine; the clients run on it too)",
        f"method:  {options.seconds:g} s a phase; {options.clients} httpx clients on loopback "
        f"against one `reelforge serve`; reads half GET /v1/runs/{{id}} ({options.jobs} jobs), "
        f"half GET /v1/characters/{{id}}/images ({options.images} images); mix: "
        f"{options.write_share:.0%} writes; healthz every 50 ms on a connection of its own"
        + listener_note,
        "",
    ]
    for name in ["floor", *databases]:
        replace_section(options.output, head, name, sections[name], SECTIONS)
    print(options.output.read_text(), end="")


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(asyncio.run(worker(json.loads(sys.argv[2])))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--characters", type=int, default=20)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--write-share", type=float, default=0.1)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument(
        "--health-port",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="serve and probe server.health_port (off for code older than it)",
    )
    parser.add_argument("--code", help="what is measured, when not this checkout's code")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--server-env", action="append", default=[], help="KEY=VALUE for the server (repeat)"
    )
    asyncio.run(main(parser.parse_args()))
