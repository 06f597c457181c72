"""Diffusion models on this machine's GPU (or CPU), through Hugging Face diffusers, in process.

Any diffusers pipeline saved in a local folder (or already in the local Hugging Face cache)
serves text-to-image; its image-to-image twin is made from it without a second copy of the
weights. Jobs of one run that share a model and size are batched into one pipeline call
(:mod:`.batching`), pipelines stay loaded between jobs within a memory budget
(:mod:`.pipelines`), and ``status`` reports per-step progress. It costs nothing; the time each
job spent on the device is recorded in its metadata (``gpu_seconds``: its share of its batch).

Like the local studio, jobs live in this process only (the engine runs it inline: submit, wait
and fetch in one step, so a crash re-runs the free generation instead of losing it), and one
process owns the device: run the diffusers provider in one process per GPU.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field

from reelforge.errors import InvalidInput, ProviderError, ReelforgeError
from reelforge.providers.base import (
    Canceled,
    Capability,
    CostEstimate,
    Failed,
    GenerationMetadata,
    GenerationRequest,
    JobHandle,
    JobState,
    OutputMedia,
    PriceQuery,
    Provider,
    ProviderDeps,
    ProviderOptions,
    ProviderSettings,
    Running,
    Succeeded,
)
from reelforge.providers.diffusers.batching import Batcher, BatchItem, BatchKey, BatchResult
from reelforge.providers.diffusers.errors import DiffusersError
from reelforge.providers.diffusers.generation import BatchRunner
from reelforge.providers.diffusers.pipelines import PipelineCache
from reelforge.providers.diffusers.settings import DiffusersSettings
from reelforge.providers.pricing import PriceEntry, price_entry

__all__ = ["DiffusersOptions", "DiffusersProvider"]

_KEPT_JOBS = 512
_SEED_RANGE = 2**31


class DiffusersOptions(ProviderOptions):
    strength: float | None = Field(
        default=None, gt=0.0, le=1.0, description="Image-to-image: how far from the input image"
    )


class DiffusersProvider(Provider[DiffusersSettings]):
    """Diffusion pipelines run in this process, batched."""

    id: ClassVar[str] = "diffusers"
    display_name: ClassVar[str] = "diffusers (your own GPU)"
    vendor_name: ClassVar[str] = "diffusers"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TEXT_TO_IMAGE, Capability.IMAGE_TO_IMAGE}
    )
    options_model: ClassVar[type[ProviderOptions]] = DiffusersOptions
    settings_model: ClassVar[type[ProviderSettings]] = DiffusersSettings
    error_class: ClassVar[type[ProviderError]] = DiffusersError
    aliases: ClassVar[frozenset[str]] = frozenset({"diffusion", "huggingface-diffusers"})

    def __init__(self, settings: DiffusersSettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._pipelines = PipelineCache(settings)
        self.runner = BatchRunner(self._pipelines)
        self._batcher = Batcher(
            self.runner, batch_size=settings.batch_size, window_s=settings.batch_window_s
        )
        self._jobs: OrderedDict[str, BatchItem] = OrderedDict()

    @classmethod
    def is_configured(cls, section: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
        return bool(section.get("text_to_image_model"))

    async def submit(self, request: GenerationRequest) -> JobHandle:
        options = self.check_request(request)
        assert isinstance(options, DiffusersOptions)
        model = self._model(request)
        self._check_size(request)
        if any(image.data is None for image in request.images):
            raise InvalidInput("The diffusers provider needs image bytes, not URLs.")
        request_id = uuid.uuid4().hex
        seed = request.seed if request.seed is not None else secrets.randbelow(_SEED_RANGE)
        item = BatchItem(request_id, request, seed, asyncio.get_running_loop().create_future())
        key = BatchKey(
            model=model,
            capability=request.capability,
            width=request.width,
            height=request.height,
            steps=request.steps or self.settings.default_steps,
            guidance_scale=request.guidance_scale,
            strength=options.strength,
        )
        self._batcher.add(key, item)
        self._jobs[request_id] = item
        self._forget_old_jobs()
        return JobHandle(provider=self.id, request_id=request_id, model=model)

    async def status(self, handle: JobHandle) -> JobState:
        item = self._jobs.get(handle.request_id)
        if item is None:
            return Failed(
                self.error(
                    "This diffusers job is unknown here (the process may have restarted); "
                    "submit it again.",
                    details={"request_id": handle.request_id},
                )
            )
        if not item.done.done():
            return Running(progress=item.progress if item.started else 0.0)
        if item.done.cancelled():
            return Canceled("canceled by request")
        error = item.done.exception()
        if error is None:
            return self._succeeded(handle, item, item.done.result())
        if isinstance(error, ProviderError):
            return Failed(error)
        if isinstance(error, ReelforgeError):
            return Failed(self.error(error.message, details=error.details))
        return Failed(self.error(f"The diffusion pipeline failed: {error}"))

    async def cancel(self, handle: JobHandle) -> None:
        item = self._jobs.get(handle.request_id)
        if item is not None:
            self._batcher.cancel(item)

    def default_model(self, capability: Capability) -> str:
        return self._configured_model(capability) or "unconfigured"

    def priced(self, query: PriceQuery) -> CostEstimate:
        model = self.resolve_model(query.model) or self.default_model(query.capability)
        return CostEstimate(provider=self.id, model=model, amount_usd=Decimal(0), basis="free")

    def price_entries(self) -> list[PriceEntry]:
        return [price_entry(self.id, "*", "any", Decimal(0), "runs on this machine", "built-in")]

    async def aclose(self) -> None:
        await self._batcher.aclose()
        self._jobs.clear()
        self._pipelines.clear()

    def _configured_model(self, capability: Capability) -> str | None:
        settings = self.settings
        if capability is Capability.IMAGE_TO_IMAGE:
            return settings.image_to_image_model or settings.text_to_image_model
        return settings.text_to_image_model

    def _model(self, request: GenerationRequest) -> str:
        model = request.model or self._configured_model(request.capability)
        if model is None:
            raise InvalidInput(
                "The diffusers provider has no model for "
                f"{request.capability.value}: set providers.diffusers.text_to_image_model.",
                details={"provider": self.id, "capability": request.capability.value},
            )
        if model not in self.settings.models:
            raise InvalidInput(
                f"Model {model!r} is not one of the diffusers provider's models.",
                details={
                    "provider": self.id,
                    "model": model,
                    "known": sorted(self.settings.models),
                },
            )
        return model

    def _check_size(self, request: GenerationRequest) -> None:
        cap_w, cap_h = self.settings.max_width, self.settings.max_height
        if request.width > cap_w or request.height > cap_h:
            raise InvalidInput(
                f"The diffusers provider renders at most {cap_w}x{cap_h}; "
                f"{request.width}x{request.height} was asked.",
                details={"max_width": cap_w, "max_height": cap_h},
            )
        if request.width % 8 or request.height % 8:
            raise InvalidInput(
                f"Diffusion models need sizes in multiples of 8; {request.width}x"
                f"{request.height} was asked.",
                details={"field": "width/height"},
            )

    def _succeeded(self, handle: JobHandle, item: BatchItem, result: BatchResult) -> Succeeded:
        metadata = GenerationMetadata(
            model=handle.model,
            seed=item.seed,
            steps=item.request.steps or self.settings.default_steps,
            inference_time_ms=round(result.seconds * 1000),
            extra={
                "device": result.device,
                "batch_id": result.batch_id,
                "batch_size": result.batch_size,
                "gpu_seconds": round(result.seconds / result.batch_size, 4),
            },
        )
        output = OutputMedia(data=result.image, content_type="image/png")
        return Succeeded(outputs=(output,), metadata=metadata, cost_usd=Decimal(0))

    def _forget_old_jobs(self) -> None:
        while len(self._jobs) > _KEPT_JOBS:
            oldest_id, oldest = next(iter(self._jobs.items()))
            if not oldest.done.done():
                break
            del self._jobs[oldest_id]
