"""What the fault soak found, each pinned down as a test of its own.

**A transform whose process died before its run started never ends.** The soak's SQLite run
(``bench/soak.py --db sqlite --seed 7 --minutes 1.5``, once; the window is narrow) ended with
``half-done: 1 transforms still running``: the embedded engine was killed during a
``POST /generate/cinematic``. A transform is recorded (``running``) by the request, and only
its run's finish step ends it; the request starts that run after preparing its input, so a
process that dies in between leaves the record ``running`` forever and its upload stored,
and no restart looked at it. Here the process kills itself at that moment, and a worker is
started on the same data directory: it ends the transform ``failed`` with ``INTERRUPTED`` and
deletes its upload (``reelforge.features.transform.stranded``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_env, engine_settings, processes, wait_for_file, wait_until
from reelforge.catalog import Catalog, upgrade_database
from reelforge.emulator import EmulatorServer, emulator_env

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

RUNNER = Path(__file__).resolve().parent / "transform_kill_runner.py"
_GRACE_S = 1.0
#: How long the restarted engine has to end the transform (many times the grace it needs).
_ENDS_WITHIN_S = 30.0


@pytest.mark.soak
async def test_a_transform_killed_before_its_run_started_ends_after_a_restart(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    engine = {"executor_id": "transform-host", "start_grace_s": _GRACE_S}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    url = settings.effective_database_url
    await upgrade_database(url)
    env = engine_env(settings) | emulator_env(emulator_server.base_url)
    marker = tmp_path / "transform_id"
    async with Catalog.from_url(url) as catalog:
        with processes(tmp_path, env) as group:
            first = group.start("first", str(RUNNER), "--marker", str(marker))
            transform_id = await wait_for_file(marker, timeout_s=120)
            await wait_until(lambda: first.poll() is not None, timeout_s=60)
            if first.returncode != -9:
                pytest.fail(f"the runner did not die as planned:\n{group.log('first')}")
            if await _status(catalog, transform_id) != ("running", True, None):
                pytest.fail("the transform was not left running with its upload")

            second = group.worker("second")
            await wait_until(lambda: _beating(catalog, second.pid), timeout_s=120)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _ENDS_WITHIN_S
            while loop.time() < deadline and (await _status(catalog, transform_id))[0] == (
                "running"
            ):
                await asyncio.sleep(0.5)
            status, upload_kept, error_code = await _status(catalog, transform_id)
            stored = await _assets(catalog)
    assert (status, error_code) == ("failed", "INTERRUPTED"), f"transform {transform_id}"
    assert not upload_kept, f"transform {transform_id} ended with its upload still stored"
    assert stored == 0, f"{stored} assets left stored (the upload, or the input made from it)"


async def _status(catalog: Catalog, transform_id: str) -> tuple[str, bool, str | None]:
    """The transform's status, whether its upload is still stored, and its error code."""
    query = text(
        "SELECT t.status, a.id, t.error_code FROM transforms t "
        "LEFT JOIN assets a ON a.id = t.input_asset_id WHERE t.id = :id"
    )
    async with catalog.engine.connect() as connection:
        row = (await connection.execute(query, {"id": transform_id})).one()
    return str(row[0]), row[1] is not None, row[2]


async def _assets(catalog: Catalog) -> int:
    async with catalog.engine.connect() as connection:
        return int((await connection.execute(text("SELECT count(*) FROM assets"))).scalar_one())


async def _beating(catalog: Catalog, pid: int) -> bool:
    """Whether the process ``pid`` has started its engine (its heartbeat row is written)."""
    query = text("SELECT count(*) FROM engine_workers WHERE pid = :pid AND stopped_at IS NULL")
    async with catalog.engine.connect() as connection:
        return bool((await connection.execute(query, {"pid": pid})).scalar())
