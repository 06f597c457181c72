"""Benchmark: what DBOS itself costs for the engine's workflow shape, with steps that do nothing.

Run by hand from the repository root (the second needs PostgreSQL on 127.0.0.1:5432, trust
auth)::

    .venv/bin/python bench/dbos_floor.py                       # as embedded-12
    .venv/bin/python bench/dbos_floor.py --postgres --jobs 100 --concurrency 20

The engine's run and job workflows (see ``reelforge.engine.workflows``) with every step's body
left empty: no provider, no catalog, no media. A ``run`` workflow enqueues ``--jobs`` job
workflows on a queue of ``--concurrency``; each job runs a submit step, waits in ``recv`` for
its webhook, then runs an ingest step and a record step, and the one that finds no job left
sends the run its "done" message. By default the system database is SQLite, configured as
embedded mode configures it (WAL, ``synchronous=NORMAL``, the same pool), with the same
immediate wake on send; ``--postgres`` uses a fresh PostgreSQL database instead. Everything
runs in this one process.

**Timed rounds**: each job's webhook is sent ``--generation`` seconds (1.0) after its submit
step, as the emulator does: the wall from starting the run to its result, against the ideal
(the waves times the generation), and the CPU a job of this process and of PostgreSQL.

**Phases** (when every job fits in the queue at once), as wall and as this process's CPU:

- ``start``: from starting the run to every job's submit step done, then the recv set-up;
- ``finish``: all webhooks sent at once, from the first ``send`` to the run's result (recv wake
  and consume, two steps, the job's end, the "done" message, the run's end).

The idle queue polling (``--queue-poll``, as the engine bench sets it) is measured on its own
and taken out of the phases. These numbers are DBOS alone, before any work of ours: they bound
how close to their ideals the engine bench's scenarios can come on this machine.

Results go to stdout and to ``bench/results/dbos_floor.txt`` (``dbos_floor_postgres.txt``).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

import psycopg
from dbos import DBOS, DBOSConfig, SetWorkflowID

from measure import postgres_cpu_s, report_head
from reelforge.engine.local_wake import wake_local_waiters
from reelforge.engine.runtime import sqlite_system_engine

RESULTS = Path(__file__).parent / "results" / "dbos_floor.txt"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
QUEUE = "floor-jobs"


class OpenJobs(Protocol):
    """Per run, the jobs not recorded yet: what tells a job it is its run's last."""

    async def start(self, run_id: str, jobs: int) -> None: ...

    async def end_one(self, run_id: str) -> int: ...


class MemoryOpenJobs:
    """The count in this process; ``dbos_floor_workers.py``, where jobs run in several
    processes, keeps it in PostgreSQL."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    async def start(self, run_id: str, jobs: int) -> None:
        self._open[run_id] = jobs

    async def end_one(self, run_id: str) -> int:
        self._open[run_id] -= 1
        return self._open[run_id]


_submitted: asyncio.Queue[str] = asyncio.Queue()  # job ids, as their submit steps run
_open_jobs: OpenJobs = MemoryOpenJobs()  # replaced by use_open_jobs
_callbacks: set[asyncio.Future[None]] = set()
_generation_s = 0.0  # set for the timed rounds: each job's webhook comes this long after submit


@DBOS.step(name="floor.step")
async def empty_step(job_id: str, name: str) -> dict[str, str]:
    return {"job_id": job_id, "step": name}


@DBOS.step(name="floor.submit")
async def submit_step(job_id: str) -> dict[str, str]:
    _submitted.put_nowait(job_id)
    if _generation_s:
        # The "provider" calls back after the generation's time, as the emulator does.
        asyncio.get_running_loop().call_later(_generation_s, _call_back, job_id)
    return {"job_id": job_id, "request_id": f"req-{job_id}"}


def use_open_jobs(counter: OpenJobs) -> None:
    global _open_jobs
    _open_jobs = counter


def open_jobs() -> OpenJobs:
    return _open_jobs


def set_generation(seconds: float) -> None:
    """From now on, each job's webhook comes ``seconds`` after its submit step (0: never)."""
    global _generation_s
    _generation_s = seconds


def _call_back(job_id: str) -> None:
    task = asyncio.ensure_future(DBOS.send_async(job_id, {"state": "succeeded"}, "webhook"))
    _callbacks.add(task)
    task.add_done_callback(_callbacks.discard)


@DBOS.step(name="floor.record")
async def record_step(job_id: str, run_id: str) -> dict[str, Any]:
    # As the engine's record step reports whether the run has an open job left.
    return {"status": "succeeded", "run_settled": await _open_jobs.end_one(run_id) == 0}


@DBOS.workflow(name="floor.job")
async def job(job_id: str, run_id: str) -> str:
    await submit_step(job_id)
    await DBOS.recv_async("webhook", 60)
    await empty_step(job_id, "ingest")
    ended = await record_step(job_id, run_id)
    if ended["run_settled"]:
        await DBOS.send_async(run_id, {"job_id": job_id}, "job_done")
    return "succeeded"


@DBOS.workflow(name="floor.run")
async def run(run_id: str, jobs: int) -> str:
    await empty_step(run_id, "begin")
    for index in range(jobs):
        with SetWorkflowID(f"{run_id}-job-{index}"):
            await DBOS.enqueue_workflow_async(QUEUE, job, f"{run_id}-job-{index}", run_id)
    await DBOS.recv_async("job_done", 60)
    await empty_step(run_id, "finish")
    return "succeeded"


async def one_round(run_id: str, jobs: int, settle_s: float) -> tuple[float, ...]:
    """Wall and CPU of the start phase, then of the finish phase."""
    await _open_jobs.start(run_id, jobs)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with SetWorkflowID(run_id):
        handle = await DBOS.start_workflow_async(run, run_id, jobs)
    waiting = [await _submitted.get() for _ in range(jobs)]
    cpu1, wall1 = time.process_time(), time.perf_counter()
    # Every job reaches its recv (the webhooks of the real bench come a second later).
    await asyncio.sleep(settle_s)
    cpu2, wall2 = time.process_time(), time.perf_counter()
    for job_id in waiting:
        await DBOS.send_async(job_id, {"state": "succeeded"}, "webhook")
    await handle.get_result()
    wall3 = time.perf_counter()
    # The other jobs' own endings may still be under way: their CPU counts too.
    for job_id in waiting:
        await (await DBOS.retrieve_workflow_async(job_id)).get_result()
    cpu3, wall4 = time.process_time(), time.perf_counter()
    return (
        wall1 - wall0,
        cpu1 - cpu0,
        wall2 - wall1,
        cpu2 - cpu1,
        wall3 - wall2,
        cpu3 - cpu2,
        wall4 - wall2,
    )


async def timed_round(run_id: str, jobs: int) -> tuple[float, float, float]:
    """Wall to the run's result with each webhook ``_generation_s`` after its submit; CPU of
    this process and of PostgreSQL's processes (0 on SQLite) until every job has ended."""
    await _open_jobs.start(run_id, jobs)
    cpu0, server0, wall0 = time.process_time(), postgres_cpu_s(), time.perf_counter()
    with SetWorkflowID(run_id):
        handle = await DBOS.start_workflow_async(run, run_id, jobs)
    await handle.get_result()
    wall = time.perf_counter() - wall0
    for index in range(jobs):
        await (await DBOS.retrieve_workflow_async(f"{run_id}-job-{index}")).get_result()
    while not _submitted.empty():
        _submitted.get_nowait()
    return wall, time.process_time() - cpu0, postgres_cpu_s() - server0


def _system_database(postgres: bool, folder: Path) -> tuple[DBOSConfig, str | None]:
    config: DBOSConfig = {
        "name": "reelforge-dbos-floor",
        "notification_listener_polling_interval_sec": 1.0,
        "log_level": "WARNING",
    }
    if not postgres:
        url = f"sqlite:///{folder / 'system.db'}"
        config["system_database_url"] = url
        config["system_database_engine"] = sqlite_system_engine(url, 20)
        return config, None
    name = f"reelforge_floor_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    config["system_database_url"] = f"postgresql://postgres@127.0.0.1:5432/{name}"
    return config, name


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="reelforge-dbos-floor-"))
    config, database = _system_database(args.postgres, folder)
    concurrency = args.concurrency or args.jobs
    dbos = DBOS(config=config)
    DBOS.launch()
    try:
        if not args.postgres:
            wake_local_waiters(dbos._sys_db)
        await DBOS.register_queue_async(
            QUEUE,
            global_concurrency=concurrency,
            polling_interval_sec=args.queue_poll,
            on_conflict="always_update",
        )
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(3.0)
        idle = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        phases: list[tuple[float, ...]] = []
        if concurrency >= args.jobs:  # every job must be able to wait at once
            rounds = [await one_round(f"run-{i}", args.jobs, 0.3) for i in range(args.rounds + 1)]
            phases = rounds[1:]
        set_generation(args.generation)
        timed = [await timed_round(f"timed-{i}", args.jobs) for i in range(args.rounds + 1)][1:]
    finally:
        DBOS.destroy()
        if database is not None:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    report = _report(args, concurrency, idle, phases, timed)
    print(report)
    results = RESULTS.with_name("dbos_floor_postgres.txt") if args.postgres else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(report)


def _report(
    args: argparse.Namespace,
    concurrency: int,
    idle: float,
    phases: list[tuple[float, ...]],
    timed: list[tuple[float, float, float]],
) -> str:
    jobs = args.jobs
    database = "PostgreSQL" if args.postgres else "SQLite as embedded mode sets it up"
    lines = [
        *report_head(
            "DBOS's own cost for the engine's workflow shape, empty steps (bench/dbos_floor.py)"
        ),
        f"python:  {platform.python_version()}; DBOS on {database}; {jobs} jobs at concurrency "
        f"{concurrency}; queue poll {args.queue_poll:g} s; one process",
        f"method:  {len(timed)} measured rounds after a warm-up round, medians; idle CPU "
        f"(queue and notification polling) {idle * 1000:.0f} ms per s, taken out of the phases",
        "",
    ]
    if phases:
        lines += _phase_lines(phases, jobs, idle)
    waves = -(-jobs // concurrency)
    ideal = waves * args.generation
    walls = [t[0] for t in timed]
    lines += [
        f"timed:   each job's webhook {args.generation:g} s after its submit step: the run ends "
        f"at {statistics.median(walls):.2f} s median (ideal {ideal:g} s: {waves} wave(s)); "
        f"runs (s): " + ", ".join(f"{w:.2f}" for w in walls),
        f"         CPU a job, until every job has ended: "
        f"{statistics.median(t[1] for t in timed) * 1000 / jobs:.1f} ms in this process"
        + (
            f", {statistics.median(t[2] for t in timed) * 1000 / jobs:.1f} ms in PostgreSQL"
            if args.postgres
            else ""
        ),
        "",
        "meaning: this is DBOS alone, before any HTTP call, download, thumbnail or catalog row "
        "of ours; the engine bench's targets are 1.25 s for 12 jobs embedded and near 5 s for "
        "100 jobs at concurrency 20 in scale-out.",
    ]
    return "\n".join(lines) + "\n"


def _phase_lines(measured: list[tuple[float, ...]], jobs: int, idle: float) -> list[str]:
    def column(index: int) -> float:
        return statistics.median(m[index] for m in measured)

    def busy(cpu: int, wall: int) -> float:
        return statistics.median(m[cpu] - idle * m[wall] for m in measured)

    start_wall, finish_wall = column(0), column(4)
    start_cpu, finish_cpu, settle_cpu = busy(1, 0), busy(5, 6), busy(3, 2)
    return [
        f"start:   run started to every submit step done: {start_wall:.3f} s wall, "
        f"{start_cpu * 1000:.0f} ms CPU ({start_cpu * 1000 / jobs:.1f} ms a job)",
        f"         then each job's recv set-up: {settle_cpu * 1000:.0f} ms CPU",
        f"finish:  all webhooks sent at once, first send to the run's result: "
        f"{finish_wall:.3f} s wall; {finish_cpu * 1000:.0f} ms CPU until every job has ended "
        f"({finish_cpu * 1000 / jobs:.1f} ms a job)",
        "rounds:  start / finish wall (s): "
        + ", ".join(f"{m[0]:.3f} / {m[4]:.3f}" for m in measured),
        "",
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=None, help="default: --jobs")
    parser.add_argument("--generation", type=float, default=1.0, help="seconds, timed rounds")
    parser.add_argument("--queue-poll", type=float, default=0.05)
    parser.add_argument(
        "--postgres", action="store_true", help="a fresh database on 127.0.0.1:5432 instead"
    )
    asyncio.run(main(parser.parse_args()))
