"""The crash harness, full: ``kill -9`` of the engine at seeded moments and in submit windows,
over 12-frame runs of fal, Replicate, Google stills, Runway, Leonardo and the Character Library
against the emulator; then the checks of ``tests/fixtures/crash_checks.py``.

Run by hand from the repository root, once per database (PostgreSQL on 127.0.0.1:5432, trust
auth, or ``RF_TEST_PG_ADMIN_URL``)::

    .venv/bin/python bench/crash.py --kills 50 --db sqlite --seed 19
    .venv/bin/python bench/crash.py --kills 50 --db postgres --seed 19

Each round starts one run per provider, spends up to ``--kills-per-round`` kills on it (5: about
ten rounds, so ten runs a provider) and lets it finish.

SQLite runs one embedded process; PostgreSQL an API process and two workers (see
``tests/fixtures/crash_procs.py``). The figures go to stdout and to ``bench/results/crash.txt``,
whose section for the database is replaced (the other database's is kept). Exits 1 when a
promise is broken.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures.crash import CampaignResult, kill_log, report_lines, run_campaign
from fixtures.crash_plan import Backend, CampaignConfig
from fixtures.database import postgres_database
from fixtures.emulator import EmulatorControl
from measure import SECTION, git_describe, replace_section, report_head
from reelforge.emulator import EmulatorServer
from reelforge.log import configure_logging

RESULTS = Path(__file__).parent / "results" / "crash.txt"


async def campaign(config: CampaignConfig, folder: Path) -> CampaignResult:
    with EmulatorServer() as server:
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30, trust_env=False))
            emulator = EmulatorControl(server.base_url, http)
            await emulator.reset()
            url = None
            if config.backend == "postgres":
                url = await stack.enter_async_context(postgres_database())
            return await run_campaign(config, emulator, folder, database_url=url)


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


_HEAD = [
    "Reelforge crash harness (bench/crash.py; the short version runs in CI: tests/crash/)",
    "columns: kills = kills while the provider's run was going; in-submit = of those, kills",
    "  that found one of its jobs in the submit window (a reservation taken, no request id",
    "  recorded); aimed = kills during a submit the emulator held (hold_accept) after it",
    "  accepted and billed; extra = generations billed that no job delivered (billed twice);",
    "  extra-recorded = settled reservations marked as (possibly) billed twice.",
    "",
]


def write_section(backend: Backend, lines: list[str]) -> None:
    """Replace this database's section of the results file, keeping the other's."""
    replace_section(RESULTS, _HEAD, backend, lines, ("sqlite", "postgres"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--kills-per-round",
        type=int,
        default=5,
        help="kills spent on one round of runs before it is left to finish (CI: 10)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    configure_logging("warning")
    backend: Backend = args.db
    config = CampaignConfig(
        backend, kills=args.kills, seed=args.seed, kills_per_round=args.kills_per_round
    )
    load_before = _load()
    code = git_describe()
    with tempfile.TemporaryDirectory(prefix="reelforge-crash-") as folder:
        result = asyncio.run(campaign(config, Path(folder)))
    lines = [
        f"{SECTION}{backend}",
        *report_head("")[1:],
        f"code:    {code} (git describe, at the start)",
        f"load:    1-min load average {load_before} at the start, {_load()} at the end",
        *report_lines(result),
        "kill log (seconds from the start, round, kind, victims, providers going, in submit):",
        *kill_log(result),
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section(backend, lines)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
