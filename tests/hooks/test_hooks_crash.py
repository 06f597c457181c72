"""``kill -9`` between two attempts of a delivery: the restarted worker makes the next attempt
when the pause is over, and the log keeps both (embedded mode, real processes)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from fixtures.engine import engine_env, engine_settings, processes, wait_for_file, wait_until
from fixtures.server import serve_app
from hooks.hooks_support import SECRET, Receiver
from reelforge.catalog import Catalog, upgrade_database
from reelforge.engine.hooks.repository import HookRepository
from reelforge.engine.hooks.tables import DeliveryRecord, HookDeliveryRow

RUNNER = Path(__file__).resolve().parent / "hooks_runner.py"
#: Long enough that the kill lands in the pause after the first attempt.
PAUSE_S = 8.0


async def _delivery(catalog: Catalog, run_id: str) -> DeliveryRecord | None:
    async with catalog.sessions() as session:
        delivery_id = await session.scalar(
            select(HookDeliveryRow.id).where(HookDeliveryRow.run_id == run_id)
        )
    return None if delivery_id is None else await HookRepository.on(catalog).delivery(delivery_id)


async def test_kill_9_between_attempts_loses_no_delivery(tmp_path: Path) -> None:
    receiver = Receiver(answers=[500])
    engine = {"executor_id": "hooks-host", "hooks": {"backoff_s": [PAUSE_S, 0.2]}}
    settings = engine_settings(tmp_path / "data", "http://127.0.0.1:9", engine=engine)
    await upgrade_database(settings.effective_database_url)
    env = {**engine_env(settings), "REELFORGE_HOOKS_SECRET": SECRET}
    marker = tmp_path / "run_id"
    async with (
        serve_app(receiver) as receiver_url,
        Catalog.from_url(settings.effective_database_url) as catalog,
    ):
        with processes(tmp_path, env) as group:
            first = group.start(
                "first", str(RUNNER), "--callback", f"{receiver_url}/cb", "--marker", str(marker)
            )
            run_id = await wait_for_file(marker, timeout_s=60)

            async def first_attempt_logged() -> bool:
                found = await _delivery(catalog, run_id)
                return found is not None and found.attempts == 1

            await wait_until(first_attempt_logged, timeout_s=60)
            group.kill(first)
            assert len(receiver.received) == 1, group.log("first")
            killed = await _delivery(catalog, run_id)
            assert killed is not None
            assert killed.status == "pending"

            group.worker("second")

            async def delivered() -> bool:
                found = await _delivery(catalog, run_id)
                return found is not None and found.status == "delivered"

            await wait_until(delivered, timeout_s=60)
            done = await _delivery(catalog, run_id)
    assert done is not None, group.log("second")
    assert [a.outcome for a in done.log] == ["failed", "delivered"]
    assert [a.status_code for a in done.log] == [500, 200]
    assert [d.headers["webhook-id"] for d in receiver.received] == [done.id, done.id]
    assert done.body["type"] == "run.completed"
    assert done.body["data"]["run_id"] == run_id
