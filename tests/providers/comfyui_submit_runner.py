"""A test helper process: a worker that starts a run of N small ComfyUI stills and holds the
answer to its first ``POST /prompt`` once the server has queued the prompt, as a process killed
in the submit window leaves it: the prompt is at ComfyUI, the catalog has only the intent.

Settings come from the environment. It writes the run id to ``--marker`` and, once the answer is
held, the held prompt id to ``--held``; then it waits to be killed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reelforge.engine.specs import JobSpec, WaitPolicy
from reelforge.log import configure_logging
from reelforge.providers.base import Capability, GenerationRequest, JobHandle
from reelforge.providers.comfyui import ComfyUIProvider
from reelforge.services import open_services
from reelforge.settings import Settings


def hold_first_answer(held: Path) -> None:
    original = ComfyUIProvider.submit
    holding = asyncio.Event()

    async def submit(self: ComfyUIProvider, request: GenerationRequest) -> JobHandle:
        handle = await original(self, request)
        if not holding.is_set():
            holding.set()
            held.write_text(handle.request_id)
            await asyncio.Event().wait()
        return handle

    ComfyUIProvider.submit = submit  # type: ignore[method-assign]


def still(label: str) -> JobSpec:
    return JobSpec(
        provider="comfyui",
        capability=Capability.TEXT_TO_IMAGE,
        prompt=f"a lighthouse at dawn ({label})",
        width=512,
        height=384,
        label=label,
    )


async def main(start: int, marker: Path, held: Path) -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    hold_first_answer(held)
    async with open_services(settings, engine="worker", environ=None) as services:
        assert services.engine is not None
        run_id = await services.engine.start_run(
            "comfyui-submit-window",
            [still(f"f{i}") for i in range(start)],
            wait=WaitPolicy(poll_interval_s=0.2),
        )
        marker.write_text(run_id)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", type=int, default=3)
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument("--held", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.start, args.marker, args.held))
