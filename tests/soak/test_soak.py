"""The fault soak, short (CI): two minutes of runs of the five features against the emulator on
PostgreSQL with an API process and two workers, seeded faults and ``kill -9`` of the workers;
then every run has ended and every promise of :mod:`fixtures.soak_checks` holds. The seed and
the counts are printed. The ten-minute soak is ``bench/soak.py``
(``bench/results/soak.txt``).

Select with ``-m soak``; about four minutes (the soak, its start and the drain)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.database import NO_POSTGRES_ENV, postgres_database
from fixtures.emulator import EmulatorControl
from fixtures.soak import report_lines, run_soak
from fixtures.soak_plan import FEATURES, SoakConfig

pytestmark = [pytest.mark.soak, pytest.mark.postgres]

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

CI_SEED = 20
CI_DURATION_S = 120.0


async def test_two_minutes_of_faults_and_worker_kills_keep_every_promise(
    tmp_path: Path, emulator: EmulatorControl, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.environ.get(NO_POSTGRES_ENV) == "1":
        pytest.skip(f"{NO_POSTGRES_ENV}=1")
    config = SoakConfig("postgres", seed=CI_SEED, duration_s=CI_DURATION_S)
    async with postgres_database() as url:
        result = await run_soak(config, emulator, tmp_path, database_url=url)
    report = "\n".join(report_lines(result))
    with capsys.disabled():
        print(f"\nfault soak, {CI_DURATION_S:.0f} s (tests/soak):\n{report}")
    assert result.kills, report
    assert {feature for feature, _status in result.runs} == set(FEATURES), report
    assert sum(result.faults_fired.values()) > 0, report
    assert result.failures == [], report
