"""Bench: 12 frames through the diffusers provider against the loop a user would write.

Both sides run the same pipeline (same folder, device and precision), the same prompts, seeds,
size and steps. The provider batches the 12 jobs (``--batch-size`` at a time, one pipeline call
a batch, the jobs submitted at once as a run's jobs are); the loop calls the pipeline once a
frame, each with its own seeded generator. Each side is warmed up first (pipeline loaded, one
call made), and rounds alternate. Reported: images a second (median of rounds) and the ratio;
"equal output" is checked by comparing each frame's pixels between the two sides (batching
changes floating-point rounding only). Both sides end with PNG bytes, as the provider stores.

Without ``--model`` the pipeline is the tests' tiny random-weight Stable Diffusion
(tests/fixtures/tiny_diffusion.py, about 1 MB), which measures our overhead and the batching
win on whatever device there is; give a real model folder to measure real work.

Run by hand:
    .venv/bin/python bench/diffusers_batching.py [--model DIR] [--size 128] [--steps 8]
        [--batch-size 4] [--rounds 3] [--device auto]
        [--results bench/results/diffusers_batching.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixtures.tiny_diffusion import save_tiny_pipeline
from reelforge.providers.base import (
    Capability,
    GenerationRequest,
    ProviderDeps,
    Running,
    Succeeded,
)
from reelforge.providers.diffusers import DiffusersProvider, DiffusersSettings

FRAMES = 12
PROMPTS = [f"shot {i}: the keeper climbs the lighthouse stairs, storm outside" for i in range(12)]


def _png_pixels(data: bytes) -> np.ndarray[Any, Any]:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


async def provider_round(
    provider: DiffusersProvider, size: int, steps: int
) -> tuple[float, list[np.ndarray[Any, Any]]]:
    started = time.perf_counter()
    handles = [
        await provider.submit(
            GenerationRequest(
                Capability.TEXT_TO_IMAGE, prompt, width=size, height=size, seed=i, steps=steps
            )
        )
        for i, prompt in enumerate(PROMPTS)
    ]
    images = []
    for handle in handles:
        while isinstance(state := await provider.status(handle), Running):
            await asyncio.sleep(0.05)
        assert isinstance(state, Succeeded), state
        assert state.outputs[0].data is not None
        images.append(state.outputs[0].data)
    seconds = time.perf_counter() - started
    return seconds, [_png_pixels(data) for data in images]


def loop_round(pipeline: Any, size: int, steps: int) -> tuple[float, list[np.ndarray[Any, Any]]]:
    import torch

    device = pipeline.device.type
    started = time.perf_counter()
    images: list[bytes] = []
    for i, prompt in enumerate(PROMPTS):
        generator = torch.Generator("cpu" if device == "mps" else device).manual_seed(i)
        with torch.inference_mode():
            image = pipeline(
                prompt, num_inference_steps=steps, width=size, height=size, generator=generator
            ).images[0]
        buffer = io.BytesIO()  # stored as the provider stores it
        image.save(buffer, format="PNG")
        images.append(buffer.getvalue())
    seconds = time.perf_counter() - started
    return seconds, [_png_pixels(data) for data in images]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()

    import diffusers
    import torch

    with tempfile.TemporaryDirectory() as scratch:
        model = args.model or save_tiny_pipeline(Path(scratch))
        settings = DiffusersSettings(
            models={"bench": str(model)},
            text_to_image_model="bench",
            device=args.device,
            batch_size=args.batch_size,
            batch_window_s=0.02,
        )
        async with httpx.AsyncClient() as http:
            provider = DiffusersProvider(settings, ProviderDeps(http=http, environ={}))
            await provider_round(provider, args.size, args.steps)  # load + warm up
            loaded = provider._pipelines.get("bench", Capability.TEXT_TO_IMAGE)
            pipeline = diffusers.DiffusionPipeline.from_pretrained(
                str(model), dtype=loaded.pipeline.dtype, local_files_only=True
            ).to(loaded.device)
            pipeline.set_progress_bar_config(disable=True)
            loop_round(pipeline, args.size, 1)  # warm up
            ours: list[float] = []
            theirs: list[float] = []
            worst = 0
            for _ in range(args.rounds):
                seconds, batched = await provider_round(provider, args.size, args.steps)
                ours.append(FRAMES / seconds)
                seconds, looped = loop_round(pipeline, args.size, args.steps)
                theirs.append(FRAMES / seconds)
                pairs = zip(batched, looped, strict=True)
                worst = max(worst, *(int(np.abs(a - b).max()) for a, b in pairs))
            calls = provider.runner.calls
            await provider.aclose()

    device = loaded.device
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "none"
    lines = [
        f"# bench/diffusers_batching.py, {dt.date.today().isoformat()}",
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at start; Python {platform.python_version()}, torch "
        f"{torch.__version__}, diffusers {diffusers.__version__}",
        f"device: {device}; GPU: {gpu}; model: {args.model or 'tiny random-weight SD (tests)'}",
        f"work: {FRAMES} frames {args.size}x{args.size}, {args.steps} steps, provider batch size "
        f"{args.batch_size}, {args.rounds} rounds alternating (median)",
        f"provider (batched): {statistics.median(ours):.2f} images/s "
        f"({calls} pipeline calls in all, warm-up included)",
        f"sequential loop:    {statistics.median(theirs):.2f} images/s",
        f"ratio: {statistics.median(ours) / statistics.median(theirs):.2f}x (goal: 2x)",
        f"equal output: largest pixel difference between the two sides {worst}/255",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.results:
        with args.results.open("a") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
