"""The fault soak, long: runs of the five features (keyframes, segments, characters,
cutscenes, transform) against the emulator for ten minutes, with seeded faults and ``kill -9``s
of the engine's workers; then every run must end and the checks of
``tests/fixtures/soak_checks.py`` hold. The two-minute version runs in CI (``tests/soak/``).

Run by hand from the repository root (PostgreSQL on 127.0.0.1:5432, trust auth, or
``RF_TEST_PG_ADMIN_URL``)::

    .venv/bin/python bench/soak.py --minutes 10 --db postgres --seed 20
    .venv/bin/python bench/soak.py --minutes 10 --db sqlite --seed 20

PostgreSQL runs an API process and two workers (a kill takes a worker, sometimes both);
SQLite one embedded process (a kill takes everything, the API too). The report goes to stdout
and to ``bench/results/soak.txt``, whose section for the database is replaced (the other's is
kept). Exits 1 when a promise is broken.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures.crash_plan import Backend
from fixtures.database import postgres_database
from fixtures.emulator import EmulatorControl
from fixtures.soak import SoakResult, report_lines, run_soak
from fixtures.soak_plan import SoakConfig
from measure import SECTION, git_describe, replace_section
from reelforge.emulator import EmulatorServer
from reelforge.log import configure_logging

RESULTS = Path(__file__).parent / "results" / "soak.txt"
_HEAD = [
    "Reelforge fault soak (bench/soak.py; two minutes of it run in CI: tests/soak/)",
    "Runs of the five features against the emulator, seeded faults (one every 1-4 s) and",
    "kill -9 of the engine (every 12-30 s, 40% aimed at a submit the emulator holds after",
    "billing); then every run must end. The seed fixes the choices and their order, not their",
    "moments: the machine below is shared with other work and loaded, so timings differ.",
    "extra = generations billed that no job kept (matched by request id); extra-recorded =",
    "settled reservations marked as (possibly) billed twice.",
    "",
]


async def soak(config: SoakConfig, folder: Path) -> SoakResult:
    with EmulatorServer() as server:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30, trust_env=False))
            emulator = EmulatorControl(server.base_url, http)
            await emulator.reset()
            url = None
            if config.backend == "postgres":
                url = await stack.enter_async_context(postgres_database())
            return await run_soak(config, emulator, folder, database_url=url)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def write_section(backend: Backend, lines: list[str]) -> None:
    """Replace this database's section of the results file, keeping the other's."""
    replace_section(RESULTS, _HEAD, backend, lines, ("postgres", "sqlite"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    configure_logging("warning")
    backend: Backend = args.db
    config = SoakConfig(backend, seed=args.seed, duration_s=args.minutes * 60)
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = _load()
    code = git_describe()
    with tempfile.TemporaryDirectory(prefix="reelforge-soak-") as folder:
        result = asyncio.run(soak(config, Path(folder)))
    lines = [
        f"{SECTION}{backend}",
        f"date:    {started_at}",
        f"machine: {len(os.sched_getaffinity(0))} CPUs (nproc), shared with other work",
        f"code:    {code} (git describe, at the start)",
        f"load:    {load_before} at the start; {_load()} at the end",
        *report_lines(result),
        "kills (seconds from the start, kind, victims):",
        *[
            f"  {kill.at_s:>6.1f}s {kill.kind}: {'+'.join(kill.victims)}"
            + (f"; held {kill.held}" if kill.held else "")
            for kill in result.kills
        ],
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section(backend, lines)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
