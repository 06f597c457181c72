"""A test helper process: a worker that starts a run of N small stills at one provider (fal
unless ``--provider`` names another), and holds the answer to its first submit once the provider
has accepted it, as a process killed in the submit window leaves it: the job is at the
provider, and the catalog has only the intent.

Settings come from the environment (``fixtures.engine.engine_env``). It writes the run id to
``--marker`` and, once the answer is held, the held request id to ``--held``; then it waits
to be killed.

    python tests/engine/submit_runner.py --start 3 --marker RUN_ID_FILE --held HELD_FILE
        [--provider comfyui]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.engine import fal_still
from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.log import configure_logging
from reelforge.providers.base import GenerationRequest, JobHandle, Provider
from reelforge.providers.registry import PROVIDER_CLASSES
from reelforge.services import open_services
from reelforge.settings import Settings


def hold_first_answer(adapter: type[Provider], held: Path) -> None:
    original = adapter.submit
    holding = asyncio.Event()

    async def submit(self: Provider, request: GenerationRequest) -> JobHandle:
        handle = await original(self, request)
        if not holding.is_set():
            holding.set()
            held.write_text(handle.request_id)
            await asyncio.Event().wait()
        return handle

    adapter.submit = submit  # type: ignore[method-assign]


def still(provider: str, label: str) -> JobSpec:
    if provider == "fal":
        return fal_still(label)
    return fal_still(label, provider=provider, options={})


async def main(provider: str, start: int, marker: Path, held: Path) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    hold_first_answer(PROVIDER_CLASSES[provider], held)
    async with open_services(settings, engine="worker", environ=None) as services:
        assert services.engine is not None
        run_id = await services.engine.start_run(
            f"{provider}-submit-window",
            [still(provider, f"f{i}") for i in range(start)],
            wait=WaitPolicy(poll_interval_s=0.2),
        )
        marker.write_text(run_id)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", default="fal")
    parser.add_argument("--start", type=int, default=3)
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument("--held", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.provider, args.start, args.marker, args.held))
