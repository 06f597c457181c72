"""The crash harness, short (CI): ``kill -9`` at seeded moments and in submit windows, on SQLite
embedded and on PostgreSQL with two workers, over runs of every provider; then every promise
of :mod:`fixtures.crash_checks` holds. The full figures come from ``bench/crash.py``.

Select with ``-m crash``; about 10 kills per database. A failure prints the campaign's figures
and names every broken promise (on the code before issue 19's fixes, several)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.crash import report_lines, run_campaign
from fixtures.crash_plan import CampaignConfig
from fixtures.database import NO_POSTGRES_ENV, postgres_database
from fixtures.emulator import EmulatorControl

pytestmark = pytest.mark.crash

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

CI_KILLS = 10
CI_SEED = 19


async def test_kills_on_sqlite_embedded_keep_every_promise(
    tmp_path: Path, emulator: EmulatorControl
) -> None:
    config = CampaignConfig("sqlite", kills=CI_KILLS, seed=CI_SEED)
    result = await run_campaign(config, emulator, tmp_path)
    report = "\n".join(report_lines(result))
    assert len(result.kills) == CI_KILLS, report
    assert result.failures == [], report


@pytest.mark.postgres
async def test_kills_of_two_postgres_workers_keep_every_promise(
    tmp_path: Path, emulator: EmulatorControl
) -> None:
    if os.environ.get(NO_POSTGRES_ENV) == "1":
        pytest.skip(f"{NO_POSTGRES_ENV}=1")
    config = CampaignConfig("postgres", kills=CI_KILLS, seed=CI_SEED)
    async with postgres_database() as url:
        result = await run_campaign(config, emulator, tmp_path, database_url=url)
    report = "\n".join(report_lines(result))
    assert len(result.kills) == CI_KILLS, report
    assert result.failures == [], report
