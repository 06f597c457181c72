"""Benchmark: DBOS's own floor for the scale-out scenario, with the jobs in worker processes.

Run by hand from the repository root (PostgreSQL on 127.0.0.1:5432, trust auth)::

    .venv/bin/python bench/dbos_floor_workers.py [--workers 2] [--jobs 100] [--concurrency 20]

The workflows of ``bench/dbos_floor.py`` (the engine's run and job shape, every step empty) on a
fresh PostgreSQL system database, laid out as ``engine.py``'s ``scaleout-100`` lays out the
engine: ``--workers`` processes (``--worker``) listen to the job queue, whose global
concurrency holds across them, and this process only starts the runs and waits for them. Each
job's webhook is sent ``--generation`` seconds (1.0) after its submit step by the worker that
ran the step (in the engine bench, the API process sends it, after an HTTP call). Which job is
its run's last is counted in a PostgreSQL row, one ``UPDATE`` a job, as the engine's record step
reads the catalog.

It reports the wall from starting a run to its result, against the ideal (the waves times the
generation), and the CPU a job in the workers, in this process and in PostgreSQL, until the
run's result. Results go to stdout and to ``bench/results/dbos_floor_workers.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from dbos import DBOS, DBOSConfig, SetWorkflowID

import dbos_floor
from dbos_floor import PG_ADMIN, QUEUE
from measure import postgres_cpu_s, process_cpu_s, report_head

RESULTS = Path(__file__).parent / "results" / "dbos_floor_workers.txt"
APP = "reelforge-dbos-floor"
OPTIONS = ("jobs", "concurrency", "generation", "queue-poll")  # passed on to the workers
COUNTER_TABLE = "CREATE TABLE IF NOT EXISTS floor_open (run_id text PRIMARY KEY, open int)"


class PostgresOpenJobs:
    """The open-job count of each run, shared by every process through one table."""

    def __init__(self, connection: psycopg.AsyncConnection[tuple[int]]) -> None:
        self._connection = connection

    async def start(self, run_id: str, jobs: int) -> None:
        await self._connection.execute(
            "INSERT INTO floor_open VALUES (%s, %s)", (run_id, jobs), prepare=True
        )

    async def end_one(self, run_id: str) -> int:
        cursor = await self._connection.execute(
            "UPDATE floor_open SET open = open - 1 WHERE run_id = %s RETURNING open",
            (run_id,),
            prepare=True,
        )
        row = await cursor.fetchone()
        assert row is not None, run_id
        return row[0]


def _config(url: str, executor_id: str) -> DBOSConfig:
    return {
        "name": APP,
        "system_database_url": url,
        "executor_id": executor_id,
        "notification_listener_polling_interval_sec": 1.0,
        "log_level": "WARNING",
    }


async def _launch(url: str, executor_id: str, args: argparse.Namespace, listen: bool) -> None:
    DBOS(config=_config(url, executor_id))
    if not listen:
        DBOS.listen_queues([])
    DBOS.launch()
    await DBOS.register_queue_async(
        QUEUE,
        global_concurrency=args.concurrency,
        polling_interval_sec=args.queue_poll,
        on_conflict="always_update",
    )
    connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await connection.execute(COUNTER_TABLE)
    dbos_floor.use_open_jobs(PostgresOpenJobs(connection))


async def work(url: str, args: argparse.Namespace) -> None:
    """A worker: run jobs from the queue until SIGTERM."""
    await _launch(url, f"floor-w{args.index}", args, listen=True)
    dbos_floor.set_generation(args.generation)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    DBOS.destroy()


async def timed_round(
    run_id: str, jobs: int, workers: list[int]
) -> tuple[float, float, float, float]:
    """Wall to the run's result; CPU of the workers, of this process and of PostgreSQL."""
    await dbos_floor.open_jobs().start(run_id, jobs)
    before = sum(process_cpu_s(pid) for pid in workers), postgres_cpu_s()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with SetWorkflowID(run_id):
        handle = await DBOS.start_workflow_async(dbos_floor.run, run_id, jobs)
    await handle.get_result()
    wall = time.perf_counter() - wall0
    return (
        wall,
        sum(process_cpu_s(pid) for pid in workers) - before[0],
        time.process_time() - cpu0,
        postgres_cpu_s() - before[1],
    )


async def main(args: argparse.Namespace) -> None:
    name = f"reelforge_floor_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    children: list[subprocess.Popen[str]] = []
    try:
        # This process registers the workflows, the queue and the counter's table first.
        await _launch(url, "floor-starter", args, listen=False)
        common = [f"--{k}={getattr(args, k.replace('-', '_'))}" for k in OPTIONS]
        for index in range(args.workers):
            children.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--worker", url, f"--index={index}", *common],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for child in children:
            if child.stdout is None or child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"worker {child.pid} did not start")
        pids = [child.pid for child in children]
        await timed_round("warm-up", args.jobs, pids)
        rounds = [await timed_round(f"timed-{i}", args.jobs, pids) for i in range(args.rounds)]
    finally:
        DBOS.destroy()
        for child in children:
            child.terminate()
            child.wait()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    report = _report(args, rounds)
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)


def _report(args: argparse.Namespace, rounds: list[tuple[float, float, float, float]]) -> str:
    def per_job_ms(index: int) -> float:
        jobs: int = args.jobs
        return statistics.median(r[index] for r in rounds) * 1000 / jobs

    waves = -(-args.jobs // args.concurrency)
    ideal = waves * args.generation
    walls = [r[0] for r in rounds]
    lines = [
        *report_head(
            "DBOS's own floor for the scale-out scenario, jobs in worker processes "
            "(bench/dbos_floor_workers.py)"
        ),
        f"python:  {platform.python_version()}; DBOS on PostgreSQL; {args.jobs} jobs at "
        f"concurrency {args.concurrency} over {args.workers} worker processes; queue poll "
        f"{args.queue_poll:g} s",
        f"method:  {len(rounds)} measured rounds after a warm-up round, medians; empty steps, "
        "each job's webhook sent by its worker 1 s after its submit step",
        "",
        f"timed:   the run ends at {statistics.median(walls):.2f} s median (ideal {ideal:g} s: "
        f"{waves} waves); runs (s): " + ", ".join(f"{w:.2f}" for w in walls),
        f"         CPU a job, until the run's result: {per_job_ms(1):.1f} ms in the workers, "
        f"{per_job_ms(2):.1f} ms in this process, {per_job_ms(3):.1f} ms in PostgreSQL",
        "",
        "meaning: DBOS alone, before any HTTP call, download, thumbnail or catalog row of ours, "
        "in the layout of the engine bench's scaleout-100 (target: near 5 s).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--generation", type=float, default=1.0, help="seconds")
    parser.add_argument("--queue-poll", type=float, default=0.05)
    parser.add_argument("--worker", metavar="URL", help="run as a worker on this database")
    parser.add_argument("--index", type=int, default=0, help="the worker's number")
    options = parser.parse_args()
    asyncio.run(work(options.worker, options) if options.worker else main(options))
