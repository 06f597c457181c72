"""A test helper process: an embedded engine that runs work, optionally starting first a run of
local-studio stills whose events go to ``--callback``; the run id is written to ``--marker``.

    python tests/hooks/hooks_runner.py --callback URL --marker RUN_ID_FILE
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelforge.catalog.models import new_id
from reelforge.engine.specs import JobSpec
from reelforge.log import configure_logging
from reelforge.providers.base import Capability
from reelforge.services import open_services
from reelforge.settings import Settings


async def main(callback: str, marker: Path) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    async with open_services(settings, engine="worker", environ=None) as services:
        run_id = new_id()
        await services.hooks.callback(run_id, callback)
        still = JobSpec(
            provider="local",
            capability=Capability.TEXT_TO_IMAGE,
            prompt="a lighthouse at dawn",
            width=320,
            height=180,
        )
        await services.engine.start_run("crash-test", [still], run_id=run_id)
        marker.write_text(run_id)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--callback", required=True)
    parser.add_argument("--marker", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.callback, args.marker))
