"""A run under an id its feature chose (``RunPlan.run_id``): started again, it starts nothing new;
and a feature's finish step can start its next stage that way, however often the finish runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fixtures.engine import engine_settings, open_engine_harness
from reelforge.engine.features import FinishedRun, RunPlan, stable_run_id
from reelforge.engine.service import EngineService
from reelforge.engine.specs import JobSpec
from reelforge.errors import Conflict, InvalidInput
from reelforge.providers.base import Capability

# Only the local studio is used: no emulator behind this URL.
NOWHERE = "http://127.0.0.1:9"


def _still(prompt: str) -> JobSpec:
    return JobSpec(
        provider="local",
        capability=Capability.TEXT_TO_IMAGE,
        prompt=prompt,
        width=320,
        height=180,
        label="still",
    )


class Relay:
    """Three legs, each a run: a leg's finish starts the next leg's run, twice over (as a
    finish run again after a crash would)."""

    name = "relay"

    def __init__(self, engine: EngineService) -> None:
        self._engine = engine

    def parse(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return dict(data)

    async def plan(self, request: dict[str, Any], *, project_id: str | None = None) -> RunPlan:
        return RunPlan(jobs=[_still(f"leg {request['leg']}")], input=request)

    async def finish(self, run: FinishedRun) -> dict[str, Any]:
        leg = int(run.run.input["leg"])
        if leg == 3:
            return {"leg": leg}
        following = stable_run_id(run.id, "next")
        plan = RunPlan(jobs=[_still(f"leg {leg + 1}")], input={"leg": leg + 1}, run_id=following)
        for _ in range(2):
            assert await self._engine.start(self.name, plan) == following
        return {"leg": leg, "next": following}


async def test_a_run_started_again_under_its_chosen_id_is_one_run(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path / "data", NOWHERE)
    async with open_engine_harness(settings, webhooks=False) as harness:
        engine = harness.engine
        run_id = stable_run_id("test", "one")
        plan = RunPlan(jobs=[_still("once")], input={"n": 1}, run_id=run_id)
        assert await engine.start("single", plan) == run_id
        assert await engine.start("single", plan) == run_id
        view = await engine.wait_for_run(run_id, 60)
        assert (view.done, view.status, len(view.jobs)) == (True, "succeeded", 1)
        assert await engine.start("single", plan) == run_id
        kinds = [event.kind for event in await engine.events(run_id)]
        assert (kinds.count("queued"), kinds.count("completed")) == (1, 1)
        assert len((await engine.get_run(run_id)).jobs) == 1
        assert [r.id for r in await harness.services.catalog.runs.list()] == [run_id]

        with pytest.raises(Conflict):
            await engine.start("another", plan)
        with pytest.raises(InvalidInput):
            await engine.start("single", replace(plan, run_id="not-a-run-id"))
    assert stable_run_id("a", "b") == stable_run_id("a", "b") != stable_run_id("a", "c")
    assert stable_run_id("a", "b") != stable_run_id("ab")


async def test_a_finish_step_starts_the_next_stage_once(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path / "data", NOWHERE)
    async with open_engine_harness(settings, webhooks=False) as harness:
        engine = harness.engine
        harness.services.features.add(Relay(engine))
        first = await engine.start("relay", await Relay(engine).plan({"leg": 1}))
        second = stable_run_id(first, "next")
        third = stable_run_id(second, "next")
        for run_id in (first, second):
            view = await engine.wait_for_run(run_id, 60)
            assert view.done
        last = await engine.wait_for_run(third, 60)
        assert (last.done, last.status, last.response) == (True, "succeeded", {"leg": 3})
        runs = await harness.services.catalog.runs.list(feature="relay")
        assert sorted(run.id for run in runs) == sorted([first, second, third])
        assert [run.response for run in sorted(runs, key=lambda r: r.input["leg"])] == [
            {"leg": 1, "next": second},
            {"leg": 2, "next": third},
            {"leg": 3},
        ]
        for run in runs:
            assert len((await engine.get_run(run.id)).jobs) == 1
