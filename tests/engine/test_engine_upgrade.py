"""Upgrades strand no paid work: a run killed mid-way resumes on a release with another package
version, a reaper retries a take-over that recovered nothing, and an older workflow version's
run is adopted once its processes are gone. On SQLite (embedded: the new process takes its own
id back) and on PostgreSQL (scale-out: a new worker's reaper takes the dead one's work).

The new release is simulated as faithfully as a test can: a copy of the installed package,
with a bumped ``__version__``, first on the new process's ``PYTHONPATH``. No hook in the product
reads a test setting; the new process imports different files that say a different version,
as it would after ``pip install`` of the next release.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import reelforge
from fixtures import emulator as emulator_fixtures
from fixtures.database import (
    Backend,
    blank_database_url,
    catalog,
    database_backend,
    database_url,
)
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    Processes,
    engine_env,
    engine_settings,
    processes,
    submits,
    wait_for_file,
    wait_for_run_end,
    wait_for_submits,
    wait_until,
)
from reelforge.catalog import Catalog
from reelforge.emulator import EmulatorServer
from reelforge.engine.adoption import adopt_workflows
from reelforge.engine.versioning import WORKFLOW_COMPAT_VERSION
from reelforge.errors import ConfigurationError, InvalidInput
from reelforge.settings import Settings

__all__ = ["blank_database_url", "catalog", "database_backend", "database_url"]

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

JOBS = 6
NEXT_RELEASE = "99.0.0"
# Two at the provider at a time: killed after 4 submits, 2 are done, 2 paid and in flight, 2
# still queued.
ENGINE = {"queues": {"fal": {"concurrency": 2}}}


def install_next_release(folder: Path, version: str = NEXT_RELEASE) -> Path:
    """A copy of the installed ``reelforge`` package whose ``__version__`` is ``version``; the
    folder to put first on ``PYTHONPATH``."""
    site = folder / "next-release"
    package = Path(reelforge.__file__).parent
    shutil.copytree(package, site / "reelforge", ignore=shutil.ignore_patterns("__pycache__"))
    init = site / "reelforge" / "__init__.py"
    source = init.read_text()
    stamped = f'__version__ = "{reelforge.__version__}"'
    assert stamped in source
    init.write_text(source.replace(stamped, f'__version__ = "{version}"'))
    return site


def with_release(env: dict[str, str], site: Path) -> dict[str, str]:
    return {**env, "PYTHONPATH": f"{site}{':' if env.get('PYTHONPATH') else ''}{env['PYTHONPATH']}"}


def installed_version(env: dict[str, str]) -> list[str]:
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import reelforge; print(reelforge.__version__, reelforge.__file__)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.split()


def settings_for(
    tmp_path: Path, emulator_url: str, database_url: str, **engine: object
) -> Settings:
    return engine_settings(
        tmp_path / "data", emulator_url, engine={**ENGINE, **engine}, database_url=database_url
    )


async def start_and_kill_mid_run(
    group: Processes, folder: Path, emulator: EmulatorControl
) -> tuple[str, int]:
    """Start a run of 6 fal stills in a worker, ``kill -9`` it after 4 paid submits."""
    marker = folder / "run_id"
    first = group.runner("first", "--role", "worker", "--start", str(JOBS), "--marker", str(marker))
    run_id = await wait_for_file(marker)
    await wait_for_submits(emulator, 4, timeout_s=45)
    await asyncio.sleep(0.3)
    group.kill(first)
    return run_id, await submits(emulator)


async def assert_billed_once(emulator: EmulatorControl, catalog: Catalog, run_id: str) -> None:
    jobs = await catalog.jobs.list_for_run(run_id)
    ledger = await emulator.ledger("fal")
    billed = [b["request_id"] for b in ledger["billed"]]
    assert ledger["providers"]["fal"]["calls"]["submit"] == JOBS
    assert len(billed) == len(set(billed)) == JOBS
    assert sorted(billed) == sorted(str(job.provider_request_id) for job in jobs)
    assert all(job.status == "succeeded" and len(job.asset_ids) == 1 for job in jobs)


async def test_a_run_killed_mid_way_finishes_on_the_next_release_billing_each_once(
    tmp_path: Path,
    database_backend: Backend,
    database_url: str,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    settings = settings_for(tmp_path, emulator_server.base_url, database_url, executor_id="old")
    env = engine_env(settings)
    next_env = with_release(env, install_next_release(tmp_path))
    version, location = installed_version(next_env)
    assert (version, Path(location).parents[1].name) == (NEXT_RELEASE, "next-release")
    # Embedded: the same machine restarts on the new release and takes its own id back.
    # Scale-out: a new worker under a new id, whose reaper takes the dead one's work.
    new_id = "old" if database_backend == "sqlite" else "new"
    async with Catalog.from_url(database_url) as catalog:
        with processes(tmp_path, env) as old, processes(tmp_path, next_env) as upgraded:
            run_id, at_kill = await start_and_kill_mid_run(old, tmp_path, emulator)
            assert at_kill == 4, old.log("first")
            upgraded.worker("upgraded", executor_id=new_id)
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            assert status == "succeeded", upgraded.log("upgraded")
        await assert_billed_once(emulator, catalog, run_id)
        workers = {w.executor_id: w for w in await catalog.workers.list()}
    assert workers[new_id].app_version == WORKFLOW_COMPAT_VERSION
    if new_id == "new":
        assert workers["old"].reaped_by == "new"


async def test_the_reaper_retries_a_take_over_that_recovered_nothing(
    tmp_path: Path,
    database_url: str,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    lost = settings_for(tmp_path, emulator_server.base_url, database_url, executor_id="lost")
    heir = settings_for(tmp_path, emulator_server.base_url, database_url, executor_id="heir")
    recoveries = tmp_path / "recoveries.log"
    async with Catalog.from_url(database_url) as catalog:
        with (
            processes(tmp_path, engine_env(lost)) as first,
            processes(tmp_path, engine_env(heir)) as second,
        ):
            run_id, _ = await start_and_kill_mid_run(first, tmp_path, emulator)
            # Its first take-over recovers nothing and says nothing, as DBOS's recovery does
            # when re-enqueueing fails: only the check afterwards finds the work still pending.
            second.runner(
                "heir",
                "--role",
                "worker",
                "--swallow-recoveries",
                "1",
                "--recovery-log",
                str(recoveries),
            )
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            assert status == "succeeded", second.log("heir")
        await assert_billed_once(emulator, catalog, run_id)
        dead = await catalog.workers.get("lost")
    swallowed, recovered = recoveries.read_text().splitlines()
    assert swallowed == "swallowed lost"
    assert recovered.rsplit(" ", 1)[0] == "recovered lost"
    assert int(recovered.rsplit(" ", 1)[1]) > 0
    assert dead is not None
    assert dead.reaped_by == "heir"


async def test_an_older_workflow_version_is_adopted_once_its_processes_are_gone(
    tmp_path: Path,
    database_url: str,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    old = settings_for(
        tmp_path,
        emulator_server.base_url,
        database_url,
        executor_id="host",
        application_version="old",
    )
    new = settings_for(tmp_path, emulator_server.base_url, database_url, executor_id="host")
    new_env = engine_env(new)
    async with Catalog.from_url(database_url) as catalog:
        with processes(tmp_path, engine_env(old)) as before, processes(tmp_path, new_env) as after:
            run_id, _ = await start_and_kill_mid_run(before, tmp_path, emulator)
            after.worker("new")

            async def restarted() -> bool:
                row = await catalog.workers.get("host")
                return row is not None and row.app_version == WORKFLOW_COMPAT_VERSION

            await wait_until(restarted, timeout_s=30)
            before_adoption = json.loads((await cli(new_env, "versions")).stdout)
            adopted = await cli(new_env, "adopt", "--from-version", "old")
            assert adopted.returncode == 0, adopted.stderr
            moved = json.loads(adopted.stdout)
            status = await wait_for_run_end(catalog, run_id, timeout_s=60)
            assert status == "succeeded", after.log("new")
            after_adoption = json.loads((await cli(new_env, "versions")).stdout)
        await assert_billed_once(emulator, catalog, run_id)
    # Stranded until adopted: nothing of this release's version, and no process of the old one.
    assert before_adoption == {
        "workflow_version": WORKFLOW_COMPAT_VERSION,
        "workflows": {"old": {"PENDING": 3, "ENQUEUED": 2}},
        "live_executors": {"host": WORKFLOW_COMPAT_VERSION},
    }
    assert after_adoption["workflows"] == {}
    assert (moved["from_version"], moved["to_version"]) == ("old", WORKFLOW_COMPAT_VERSION)
    # The run and the 2 jobs at the provider were running; the 2 others waited on the queue.
    assert len(moved["requeued"]) == 3
    assert len(moved["restamped"]) == 2


async def test_adopting_is_refused_while_a_process_of_that_version_beats(
    tmp_path: Path, catalog: Catalog
) -> None:
    await catalog.workers.start(
        executor_id="w-old",
        host="elsewhere",
        pid=1,
        incarnation="x",
        role="worker",
        app_version="old",
    )
    never_created = f"sqlite:///{tmp_path / 'engine.sqlite'}"
    adopt = functools.partial(
        adopt_workflows,
        catalog.workers,
        never_created,
        to_version=WORKFLOW_COMPAT_VERSION,
        stale_after_s=30,
        now=lambda: datetime.now(UTC),
    )
    with pytest.raises(ConfigurationError, match="w-old") as refused:
        await adopt(from_version="old")
    assert refused.value.details["executors"] == ["w-old"]
    with pytest.raises(InvalidInput, match="nothing to adopt"):
        await adopt(from_version=WORKFLOW_COMPAT_VERSION)
    await catalog.workers.stop("w-old", "x")
    adoption = await adopt(from_version="old")
    assert (adoption.requeued, adoption.restamped, adoption.applied) == ((), (), True)


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``reelforge engine ARGS --json`` in a process of its own."""
    command = [sys.executable, "-m", "reelforge", "engine", *args, "--json"]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )
