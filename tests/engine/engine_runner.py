"""A test helper process: the engine in a role, optionally starting a run of fal jobs first.

Settings come from the environment (``fixtures.engine.engine_env``). With ``--start N`` it
starts a run of N small fal stills, writes the run id to ``--marker``, and then either keeps
running (``--role worker``: it drives the run, until killed) or exits (``--role api`` in
scale-out mode: the run waits on the queue for the workers).

    python tests/engine/engine_runner.py --role worker --start 12 --marker RUN_ID_FILE
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.engine import fal_still
from reelforge.engine.config import EngineRole
from reelforge.engine.specs import WaitPolicy
from reelforge.log import configure_logging
from reelforge.services import open_services
from reelforge.settings import Settings


async def main(role: EngineRole, start: int, poll_s: float, marker: Path | None) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    async with open_services(settings, engine=role, environ=None) as services:
        assert services.engine is not None
        if start:
            run_id = await services.engine.start_run(
                "crash-test",
                [fal_still(f"f{i}") for i in range(start)],
                wait=WaitPolicy(poll_interval_s=poll_s),
            )
            if marker is not None:
                marker.write_text(run_id)
        if services.engine.engine.executes:
            await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["api", "worker"], default="worker")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--poll-s", type=float, default=0.2)
    parser.add_argument("--marker", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.role, args.start, args.poll_s, args.marker))
