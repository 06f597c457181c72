"""Embedded mode wakes a waiting ``recv`` from the sending thread, not from DBOS's poller, and
only when the send inserted a message.

The DBOS notification poll is set to 5 s here, so a wake that came from the poller would be
seen on its thread; the test looks at which thread set the waiter's signal.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import sqlalchemy as sa
from dbos import DBOS
from dbos._dbos import _get_dbos_instance
from dbos._sys_db import KeySignal

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_settings, fal_still, open_engine_harness, wait_until
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import WaitPolicy
from reelforge.engine.workflows import WEBHOOK_TOPIC, job_workflow_id

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _record_wakes(signal: KeySignal) -> list[str]:
    """The names of the threads that set ``signal`` from now on (it still wakes its waiter)."""
    woken_on: list[str] = []
    original_set = signal.set

    def recording_set() -> None:
        woken_on.append(threading.current_thread().name)
        original_set()

    signal.set = recording_set  # type: ignore[method-assign]
    return woken_on


async def test_a_message_sent_in_this_process_wakes_its_receiver_from_the_sender(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=30.0)
    settings = engine_settings(
        tmp_path / "data", emulator_server.base_url, engine={"notification_poll_s": 5.0}
    )
    async with open_engine_harness(settings, webhooks=False) as harness:
        run_id = await harness.engine.start_run(
            "test", [fal_still("waiting")], wait=WaitPolicy(poll_interval_s=30.0)
        )
        job = (await harness.services.catalog.jobs.list_for_run(run_id))[0]
        workflow_id = job_workflow_id(job.id)
        system_database = _get_dbos_instance()._sys_db
        key, _ = system_database._waiter(workflow_id, WEBHOOK_TOPIC)
        await wait_until(lambda: system_database.notifications_map.get(key) is not None)
        signal = system_database.notifications_map.get(key)
        assert signal is not None
        woken_on = _record_wakes(signal)
        # About another request: the job takes it, ignores it and goes back to waiting.
        message = {"request_id": "someone-else"}
        await DBOS.send_async(workflow_id, message, WEBHOOK_TOPIC, idempotency_key="once")

        assert woken_on, "the send did not wake the waiting job"
        assert not any("notification_listener" in name for name in woken_on), woken_on

        # The same send again inserts nothing, so it must wake nobody (a woken job would
        # find no message and ask the provider for nothing).
        notifications = system_database.tables.notifications

        def unconsumed() -> int:
            with system_database.engine.begin() as connection:
                query = (
                    sa.select(sa.func.count())
                    .select_from(notifications)
                    .where(
                        notifications.c.destination_uuid == workflow_id,
                        notifications.c.consumed.is_(False),
                    )
                )
                return int(connection.execute(query).scalar_one())

        async def consumed_and_waiting_again() -> bool:
            # The job took the message and waits anew, on a fresh signal.
            waiting = system_database.notifications_map.get(key)
            fresh = waiting is not None and waiting is not signal
            return fresh and await asyncio.to_thread(unconsumed) == 0

        await wait_until(consumed_and_waiting_again)
        again = system_database.notifications_map.get(key)
        assert again is not None
        woken_again = _record_wakes(again)
        await DBOS.send_async(workflow_id, message, WEBHOOK_TOPIC, idempotency_key="once")
        assert woken_again == []
        await harness.engine.cancel_run(run_id)
