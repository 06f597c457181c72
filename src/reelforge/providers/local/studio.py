"""The local studio: the offline default provider.

It is a previz / animatic / filter studio, not a diffusion model, and says so in its metadata:
text→image draws a storyboard draft frame (a character sent with a reference photo is drawn
from it, :mod:`.reference_figures`), image→video and text→video make an animatic with a camera
move read from the camera notes, image→image applies a named style filter, or for one view of
a character's 360° set turns the figure (:mod:`.turnaround`). It needs no key and no network
and costs nothing.

Jobs render in worker processes (:mod:`.pool`; the work is CPU-bound and much of it holds the
GIL, so in a thread it would stall the server's event loop); ``submit`` returns at once and
``status`` reports Running until the render is done. ``render_processes`` sets how many run at
once (default: one per CPU core), ``render_nice`` how much lower their CPU priority is. Jobs live
in this process only: after a restart an old request id is reported as failed, and since the
studio is deterministic and free, the caller may simply submit again.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Literal

from pydantic import Field

from reelforge.errors import InvalidInput, ProviderError, ReelforgeError
from reelforge.providers.base import (
    Canceled,
    Capability,
    CostEstimate,
    Failed,
    GenerationRequest,
    JobHandle,
    JobState,
    PriceQuery,
    Provider,
    ProviderDeps,
    ProviderOptions,
    ProviderSettings,
    Running,
    Succeeded,
)
from reelforge.providers.local.animatic import MAX_KEY_FRAMES
from reelforge.providers.local.errors import LocalStudioError
from reelforge.providers.local.pool import RenderPool
from reelforge.providers.local.rendering import Refusal, model_for, render_job
from reelforge.providers.pricing import PriceEntry, price_entry

__all__ = ["LocalStudio", "LocalStudioError", "LocalStudioOptions", "LocalStudioSettings"]

_KEPT_JOBS = 256


class LocalStudioSettings(ProviderSettings):
    max_width: int = Field(default=1280, ge=64, le=3840)
    max_height: int = Field(default=720, ge=64, le=2160)
    fps: int = Field(default=24, ge=1, le=60)
    crf: int = Field(default=23, ge=0, le=51)
    encoder_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = (
        "veryfast"
    )
    face_models_dir: Path | None = None
    render_processes: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Processes that render stills and clips at once; None: one per CPU core",
    )
    render_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower the render processes' CPU priority is than the server's "
        "(a Unix nice increment; 0: the same)",
    )


class LocalStudioOptions(ProviderOptions):
    strength: float = Field(default=1.0, ge=0.0, le=1.0, description="Style filter strength")


class LocalStudio(Provider[LocalStudioSettings]):
    """Offline previz stills, animatic clips and style filters."""

    id: ClassVar[str] = "local"
    display_name: ClassVar[str] = "Local studio (offline previz)"
    vendor_name: ClassVar[str] = "Local studio"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    options_model: ClassVar[type[ProviderOptions]] = LocalStudioOptions
    settings_model: ClassVar[type[ProviderSettings]] = LocalStudioSettings
    error_class: ClassVar[type[ProviderError]] = LocalStudioError
    aliases: ClassVar[frozenset[str]] = frozenset({"local_studio", "local-studio"})
    accepts_last_frame: ClassVar[bool] = True
    max_key_frames: ClassVar[int | None] = MAX_KEY_FRAMES
    # A character's reference photo is drawn as that character's figure (its face and upper
    # body cut out, :mod:`.reference_figures`): one per figure a frame can hold.
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.TEXT_TO_IMAGE: 6, Capability.TEXT_TO_VIDEO: 6}
    )

    def __init__(self, settings: LocalStudioSettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._jobs: OrderedDict[str, asyncio.Task[Succeeded]] = OrderedDict()
        self._pool = RenderPool(
            settings.render_processes or os.cpu_count() or 1, nice=settings.render_nice
        )

    async def submit(self, request: GenerationRequest) -> JobHandle:
        options = self.check_request(request)
        assert isinstance(options, LocalStudioOptions)
        self._check_size(request)
        if any(image.data is None for image in request.images):
            raise InvalidInput(
                "The local studio works offline and needs image bytes, not URLs; ingest the "
                "images first."
            )
        request_id = uuid.uuid4().hex
        task = asyncio.create_task(self._render(request, options))
        self._jobs[request_id] = task
        self._forget_old_jobs()
        return JobHandle(
            provider=self.id, request_id=request_id, model=model_for(request.capability)
        )

    async def status(self, handle: JobHandle) -> JobState:
        task = self._jobs.get(handle.request_id)
        if task is None:
            return Failed(
                LocalStudioError(
                    "This local studio job is unknown here (the process may have restarted); "
                    "submit it again.",
                    provider=self.id,
                    details={"request_id": handle.request_id},
                )
            )
        if not task.done():
            return Running()
        if task.cancelled():
            return Canceled("canceled by request")
        error = task.exception()
        if error is None:
            return task.result()
        if isinstance(error, LocalStudioError):
            return Failed(error)
        if isinstance(error, ReelforgeError):
            return Failed(LocalStudioError(error.message, provider=self.id, details=error.details))
        return Failed(LocalStudioError(f"The local studio failed: {error}", provider=self.id))

    async def cancel(self, handle: JobHandle) -> None:
        task = self._jobs.get(handle.request_id)
        if task is not None and not task.done():
            task.cancel()

    def default_model(self, capability: Capability) -> str:
        return model_for(capability)

    def priced(self, query: PriceQuery) -> CostEstimate:
        model = model_for(query.capability)
        return CostEstimate(provider=self.id, model=model, amount_usd=Decimal("0"), basis="free")

    def price_entries(self) -> list[PriceEntry]:
        return [price_entry(self.id, "*", "any", Decimal(0), "runs on this machine", "built-in")]

    async def aclose(self) -> None:
        for task in self._jobs.values():
            task.cancel()
        self._jobs.clear()
        await self._pool.aclose()

    def _check_size(self, request: GenerationRequest) -> None:
        cap_w, cap_h = self.settings.max_width, self.settings.max_height
        if request.width > cap_w or request.height > cap_h:
            raise InvalidInput(
                f"The local studio renders at most {cap_w}x{cap_h}; "
                f"{request.width}x{request.height} was asked.",
                details={"max_width": cap_w, "max_height": cap_h},
            )

    def _forget_old_jobs(self) -> None:
        while len(self._jobs) > _KEPT_JOBS:
            oldest_id, oldest = next(iter(self._jobs.items()))
            if not oldest.done():
                break
            del self._jobs[oldest_id]

    async def _render(self, request: GenerationRequest, options: LocalStudioOptions) -> Succeeded:
        rendered = await self._pool.run(render_job, request, options, self.settings)
        if isinstance(rendered, Refusal):
            raise rendered.error()
        return rendered
