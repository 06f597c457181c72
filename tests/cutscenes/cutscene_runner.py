"""A test helper process: the engine in a worker, one cutscene triggered, then ``kill -9`` of
itself at a chosen point between the still and the clip.

Settings come from the environment (``fixtures.engine.engine_env``). The trigger's answer is
written to ``--marker``; ``--crash-at`` says where the process kills itself (SIGKILL: no cleanup
of any kind):

- ``still-finish``: the still is made and paid, and its run's finish step has just begun;
- ``clip-started``: the still's finish has recorded the still and started the clip's run, and
  has not returned (so its step is not checkpointed: a restart runs it again);
- ``planned``: the cutscene is started through the generic run face (``POST /v1/runs``'s
  ``FeatureRuns.start``) instead of the trigger, and the process dies once the feature has
  planned it, as the face is about to start the planned run; the cutscene id is the marker's;
- ``none``: no crash of its own (the engine's fault point, armed by the environment, may stop
  the process while the trigger starts the still's run).

    python tests/cutscenes/cutscene_runner.py --marker ANSWER_FILE --crash-at still-finish
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelforge.engine.features import FinishedRun, RunPlan
from reelforge.features.cutscenes.schemas import (
    CutsceneType,
    MediaSettingsUpdate,
    TriggerCutsceneRequest,
)
from reelforge.log import configure_logging
from reelforge.services import Services, open_services
from reelforge.settings import Settings

CAMPAIGN = "saga-7"
SESSION = "night-2"


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _die_once_planned(services: Services, marker: Path) -> None:
    """The cutscene's plan written to ``marker``; death at the face's start of its run."""
    plan, start = services.cutscenes.plan, services.engine.start
    planned: list[str] = []

    async def plan_and_note(request: Any, *, project_id: str | None = None) -> RunPlan:
        made = await plan(request, project_id=project_id)
        planned.append(str(made.input["cutscene_id"]))
        return made

    async def start_or_die(feature: str, plan: RunPlan) -> str:
        if planned:
            marker.write_text(json.dumps({"cutscene_id": planned[0]}))
            _die()
        return await start(feature, plan)

    setattr(services.cutscenes, "plan", plan_and_note)  # noqa: B010
    setattr(services.engine, "start", start_or_die)  # noqa: B010


def _crash_at(services: Services, point: str) -> None:
    if point in ("none", "planned"):  # the engine's own fault point, if armed, stops the process
        return
    if point == "still-finish":
        finish = services.cutscenes.finish

        async def finish_after_dying(run: FinishedRun) -> dict[str, Any]:
            if run.run.input.get("step") == "still":
                _die()
            return await finish(run)

        setattr(services.cutscenes, "finish", finish_after_dying)  # noqa: B010
    else:
        start = services.engine.start

        async def start_then_die(feature: str, plan: RunPlan) -> str:
            run_id = await start(feature, plan)
            if plan.input.get("step") == "clip":
                _die()
            return run_id

        setattr(services.engine, "start", start_then_die)  # noqa: B010


async def main(marker: Path, point: str) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    async with open_services(settings, engine="worker", environ=None) as services:
        _crash_at(services, point)
        await services.cutscenes.update_settings(
            CAMPAIGN,
            MediaSettingsUpdate(
                enabled=True,
                quality="draft",
                clip_duration_s=4,
                image_provider="fal",
                video_provider="fal",
            ),
        )
        request = TriggerCutsceneRequest(
            campaign_id=CAMPAIGN,
            session_id=SESSION,
            turn_number=12,
            cutscene_type=CutsceneType.ACTION_CLIMAX,
            image_prompt="Kai leaps across the collapsing bridge, blade drawn",
            motion_prompt="fast push-in on the leap",
        )
        if point == "planned":
            _die_once_planned(services, marker)
            await services.runs.start("cutscenes", request.model_dump(mode="json"))
        answer = await services.cutscenes.trigger(request)
        marker.write_text(json.dumps(answer))
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument(
        "--crash-at", choices=["still-finish", "clip-started", "planned", "none"], required=True
    )
    args = parser.parse_args()
    asyncio.run(main(args.marker, args.crash_at))
