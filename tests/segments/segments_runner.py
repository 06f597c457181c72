"""A test helper process: an engine that starts one segments run and then only drives jobs.

Settings come from the environment (``fixtures.engine.engine_env``). It starts the segments
run of the request in ``REQUEST`` through the generic runs face (no wait, nobody following),
writes the run id to ``MARKER``, and keeps its engine running until it is killed.

    python tests/segments/segments_runner.py REQUEST MARKER
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from reelforge.log import configure_logging
from reelforge.services import open_services
from reelforge.settings import Settings


async def main(request: Path, marker: Path) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    async with open_services(settings, engine="worker", environ=None) as services:
        run_id = await services.runs.start("segments", json.loads(request.read_text()))
        marker.write_text(run_id)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
