"""A test helper process: the engine in a worker, one cutscene triggered, then ``kill -9`` of
itself at a chosen point between the still and the clip.

Settings come from the environment (``fixtures.engine.engine_env``). The trigger's answer is
written to ``--marker``; ``--crash-at`` says where the process kills itself (SIGKILL: no cleanup
of any kind):

- ``still-finish``: the still is made and paid, and its run's finish step has just begun;
- ``clip-started``: the still's finish has recorded the still and started the clip's run, and
  has not returned (so its step is not checkpointed: a restart runs it again);
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


def _crash_at(services: Services, point: str) -> None:
    if point == "none":  # the engine's own fault point, if armed, stops the process
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
        answer = await services.cutscenes.trigger(
            TriggerCutsceneRequest(
                campaign_id=CAMPAIGN,
                session_id=SESSION,
                turn_number=12,
                cutscene_type=CutsceneType.ACTION_CLIMAX,
                image_prompt="Kai leaps across the collapsing bridge, blade drawn",
                motion_prompt="fast push-in on the leap",
            )
        )
        marker.write_text(json.dumps(answer))
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument(
        "--crash-at", choices=["still-finish", "clip-started", "none"], required=True
    )
    args = parser.parse_args()
    asyncio.run(main(args.marker, args.crash_at))
