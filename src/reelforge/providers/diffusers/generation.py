"""One batch through a diffusers pipeline: prompts, seeds and input images in; PNG bytes out.

Runs in the batcher's thread. Each image gets its own ``torch.Generator`` seeded with its job's
seed, so a job's picture is reproducible from its seed; per-step progress is written on the
jobs as the pipeline reports it, and a batch whose jobs are all canceled stops at the next step.
"""

from __future__ import annotations

import io
import time
from typing import Any

from PIL import Image

from reelforge.providers.base import Capability
from reelforge.providers.diffusers.batching import BatchItem, BatchKey, BatchResult, Interrupted
from reelforge.providers.diffusers.pipelines import PipelineCache, import_torch

__all__ = ["BatchRunner"]


class BatchRunner:
    """The :data:`~.batching.RunBatch` of the provider, over its pipeline cache."""

    def __init__(self, pipelines: PipelineCache) -> None:
        self._pipelines = pipelines
        self.calls = 0

    def __call__(self, key: BatchKey, items: list[BatchItem], batch_id: int) -> list[BatchResult]:
        torch, _ = import_torch()
        loaded = self._pipelines.get(key.model, key.capability)
        started = time.monotonic()
        arguments = self._arguments(torch, key, items, loaded.device)

        def on_step_end(pipe: Any, step: int, timestep: Any, values: dict[str, Any]) -> Any:
            for item in items:
                item.progress = (step + 1) / key.steps
            if all(item.canceled for item in items):
                raise Interrupted
            return values

        with torch.inference_mode():
            output = loaded.pipeline(**arguments, callback_on_step_end=on_step_end)
        self.calls += 1
        seconds = time.monotonic() - started
        return [
            BatchResult(_png(image), batch_id, len(items), seconds, loaded.device)
            for image in output.images
        ]

    @staticmethod
    def _arguments(
        torch: Any, key: BatchKey, items: list[BatchItem], device: str
    ) -> dict[str, Any]:
        generator_device = "cpu" if device == "mps" else device
        arguments: dict[str, Any] = {
            "prompt": [item.request.prompt for item in items],
            "num_inference_steps": key.steps,
            "generator": [
                torch.Generator(generator_device).manual_seed(item.seed) for item in items
            ],
            "output_type": "pil",
        }
        negatives = [item.request.negative_prompt for item in items]
        if any(negatives):
            arguments["negative_prompt"] = negatives
        if key.guidance_scale is not None:
            arguments["guidance_scale"] = key.guidance_scale
        if key.capability is Capability.IMAGE_TO_IMAGE:
            arguments["image"] = [_input_image(item, key) for item in items]
            if key.strength is not None:
                arguments["strength"] = key.strength
        else:
            arguments["width"], arguments["height"] = key.width, key.height
        return arguments


def _input_image(item: BatchItem, key: BatchKey) -> Image.Image:
    data = item.request.images[0].data
    assert data is not None  # the provider refuses URLs before a job is batched
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").resize((key.width, key.height), Image.Resampling.LANCZOS)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
