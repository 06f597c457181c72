"""A test helper process: the embedded engine, one photo transform asked of it, and ``kill -9``
of itself once the transform is recorded and its run is about to start (the moment the fault
soak's SQLite runs once hit: a kill of the embedded engine during a transform request).

Settings come from the environment (``fixtures.engine.engine_env`` and the emulator's). The
recorded transform's id is written to ``--marker`` just before the process kills itself.

    python tests/soak/transform_kill_runner.py --marker FILE
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelforge.engine.features import RunPlan
from reelforge.features.transform.validation import parse_request
from reelforge.log import configure_logging
from reelforge.services import open_services
from reelforge.settings import Settings
from transform.transform_support import DESCRIPTION, astronaut, encoded


async def main(marker: Path) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    async with open_services(settings, engine="api", environ=None) as services:
        start = services.engine.start

        async def die_before_the_run(feature: str, plan: RunPlan) -> str:
            if feature == "transform":
                marker.write_text(str(plan.input["transform_id"]))
                os.kill(os.getpid(), signal.SIGKILL)
            return await start(feature, plan)

        setattr(services.engine, "start", die_before_the_run)  # noqa: B010
        transform = services.transform
        request = parse_request({"scene_description": DESCRIPTION}, transform.settings)
        photo = base64.b64encode(encoded(astronaut())).decode()
        upload = await transform.receive_text(photo, "media")
        await transform.transform(request, upload, source="generate")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--marker", type=Path, required=True)
    asyncio.run(main(parser.parse_args().marker))
