"""Runs whose steps were checkpointed as earlier releases stored them: they finish, and a job
workflow replays from those checkpoints alone (a fork past its last step) to the same end,
without calling its provider again.

Each typed result's ``checkpoint`` is made to return the earlier release's dict, as that
release's steps returned it; everything else runs as it does now, on the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from dbos import DBOS

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_settings, fal_still, open_engine_harness
from reelforge.emulator import EmulatorServer
from reelforge.engine.outcomes import Fetched, Ingested, JobEnd, ProviderReport, Submitted
from reelforge.engine.specs import JobSpec, RetryPolicy, WaitPolicy
from reelforge.engine.workflows import job_workflow_id
from reelforge.providers.base import Capability

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

_STATE_KEYS = {
    "queued": ("position",),
    "running": ("progress",),
    "succeeded": ("outputs", "cost_usd", "metadata"),
    "failed": ("error",),
    "unknown": ("error",),
    "canceled": ("reason",),
}


def _previous_submitted(self: Submitted) -> dict[str, Any]:
    # The history's record of the submission, plus the outcome and the clock.
    return self.detail() | {"outcome": "submitted", "at": self.at}


def _previous_report(self: ProviderReport) -> dict[str, Any]:
    stored = self.model_dump(mode="json")
    shape = {"state": self.state, **{key: stored[key] for key in _STATE_KEYS[self.state]}}
    if shape.get("outputs") is not None:
        shape["outputs"] = [{k: v for k, v in o.items() if v is not None} for o in shape["outputs"]]
    return shape | {"at": self.at}


def _previous_fetched(self: Fetched) -> dict[str, Any]:
    stored = self.model_dump(mode="json")
    stored["outputs"] = [{k: v for k, v in o.items() if v is not None} for o in stored["outputs"]]
    return stored


def _previous_ingested(self: Ingested) -> dict[str, Any]:
    shape: dict[str, Any] = {"outcome": "ingested", "asset_ids": list(self.asset_ids)}
    if self.metadata is not None:
        # An inline run added what its fetch saw.
        shape |= {"cost_usd": self.cost_usd, "metadata": self.metadata.model_dump(mode="json")}
    return shape


def _oldest_job_end(self: JobEnd) -> str:
    return self.status


@pytest.fixture(params=["previous", "oldest"])
def stored_as(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Results checkpointed as the release before typed results stored them; "oldest": and
    the record and fail steps as the release before that (the bare status)."""
    monkeypatch.setattr(Submitted, "checkpoint", _previous_submitted)
    monkeypatch.setattr(ProviderReport, "checkpoint", _previous_report)
    monkeypatch.setattr(Fetched, "checkpoint", _previous_fetched)
    monkeypatch.setattr(Ingested, "checkpoint", _previous_ingested)
    if request.param == "oldest":
        monkeypatch.setattr(JobEnd, "checkpoint", _oldest_job_end)
    return str(request.param)


async def test_jobs_checkpointed_by_earlier_releases_finish_and_replay(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl, stored_as: str
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    await emulator.inject("fal", "submit", "http_503", count=1)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    inline = JobSpec(
        provider="local",
        capability=Capability.TEXT_TO_IMAGE,
        prompt="a harbour at dawn",
        width=320,
        height=180,
        label="inline",
    )
    retried = fal_still("retried", retry=RetryPolicy(max_retries=1, backoff_s=0.05))
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        run_id = await service.start_run(
            "test", [retried, inline], wait=WaitPolicy(poll_interval_s=0.1)
        )
        view = await service.wait_for_run(run_id, 30)
        assert view.status == "succeeded", view
        workflow = job_workflow_id(view.jobs[0].id)
        steps = await DBOS.list_workflow_steps_async(workflow)
        names = [step["function_name"] for step in steps]
        submits: list[dict[str, Any]] = [
            cast(dict[str, Any], step["output"])
            for step in steps
            if step["function_name"] == "reelforge.job.submit"
        ]
        # The first submit failed and was retried; the second was stored as earlier releases did.
        assert submits[0]["outcome"] == "error"
        assert submits[1].keys() == {
            "attempt",
            "handle",
            "outcome",
            "at",
            "reservation_id",
            "estimate_usd",
        }
        assert ("reelforge.run.settled" in names) == (stored_as == "oldest")
        calls = (await emulator.ledger("fal"))["providers"]["fal"]["calls"]

        for job in view.jobs:
            original = await DBOS.list_workflow_steps_async(job_workflow_id(job.id))
            last = max(step["function_id"] for step in original)
            fork = await DBOS.fork_workflow_async(job_workflow_id(job.id), last + 1)
            assert await fork.get_result() == "succeeded"
            replayed = await DBOS.list_workflow_steps_async(fork.workflow_id)
            assert [s["function_name"] for s in replayed] == [s["function_name"] for s in original]

        jobs = {job.label: await harness.services.catalog.jobs.get(job.id) for job in view.jobs}
    assert (await emulator.ledger("fal"))["providers"]["fal"]["calls"] == calls
    assert calls["submit"] == 2
    fal_metadata = jobs["retried"].provider_metadata
    assert fal_metadata is not None
    assert fal_metadata["model"] == jobs["retried"].model
    assert set(fal_metadata) == {"model", "seed", "steps", "inference_time_ms", "extra"}
    local_metadata = jobs["inline"].provider_metadata
    assert local_metadata is not None
    assert local_metadata["model"]
