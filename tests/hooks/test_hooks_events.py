"""The other events: a job's failure and its run's, a canceled run, a budget that refused; a
fal job against the emulator, a project's subscription on a receiver on loopback."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from standardwebhooks import Webhook

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import FAL_ENV, fal_still, wait_for_run_end, wait_until
from hooks.hooks_support import SECRET, Receiver, served
from reelforge.budget.scopes import BudgetScope
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import JobSpec

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _still(label: str) -> JobSpec:
    return fal_still(label, budget_scopes=("project:p-1",))


def _types(receiver: Receiver) -> list[str]:
    return sorted(Webhook(SECRET).verify(d.body, d.headers)["type"] for d in receiver.received)


async def test_failures_cancels_and_refusals_are_announced(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    receiver = Receiver()
    fal = {"fal": {"base_url": f"{emulator_server.base_url}/fal"}}
    emulator_host = emulator_server.base_url.removeprefix("http://")
    async with served(
        tmp_path, receiver, [0.2], providers=fal, environ=FAL_ENV, allowed=[emulator_host]
    ) as (
        _,
        receiver_url,
        services,
    ):
        await services.hooks.subscribe("p-1", f"{receiver_url}/p1")
        engine = services.engine

        # A job its provider refuses for good: the job's failure, then its run's.
        await emulator.inject("fal", "submit", "http_401", count=1)
        failed = await engine.start_run("hooks-test", [_still("a")], project_id="p-1")
        assert await wait_for_run_end(services.catalog, failed) == "failed"
        await receiver.wait_for(2)
        assert _types(receiver) == ["job.failed", "run.failed"]
        job_failed = next(
            Webhook(SECRET).verify(d.body, d.headers)
            for d in receiver.received
            if b"job.failed" in d.body
        )
        assert job_failed["data"]["run_id"] == failed
        assert job_failed["data"]["provider"] == "fal"

        # A run canceled while its job is at the provider.
        await emulator.configure(latency_s=60, queue_s=0.05)
        canceled = await engine.start_run("hooks-test", [_still("b")], project_id="p-1")

        async def submitted() -> bool:
            [job] = await services.catalog.jobs.list_for_run(canceled)
            return job.status == "running"

        await wait_until(submitted, timeout_s=30)
        await engine.cancel_run(canceled)
        await receiver.wait_for(3)
        assert _types(receiver) == ["job.failed", "run.canceled", "run.failed"]

        # A cap the job does not fit in: the budget refuses, and says so once.
        await emulator.configure(latency_s=0.05, queue_s=0.05)
        await services.budget.set_cap(BudgetScope("project", "p-1"), Decimal(0), "day")
        for label in ("c", "d"):
            refused = await engine.start_run("hooks-test", [_still(label)], project_id="p-1")
            assert await wait_for_run_end(services.catalog, refused) == "failed"
        await receiver.wait_for(8)
        types = _types(receiver)
        assert types.count("budget.exhausted") == 1
        assert types.count("job.failed") == 3
        assert types.count("run.failed") == 3
        exhausted = next(
            Webhook(SECRET).verify(d.body, d.headers)
            for d in receiver.received
            if b"budget.exhausted" in d.body
        )
        assert exhausted["data"] == {"scope": "project:p-1"}
