"""The local studio: the offline default provider.

It is a previz / animatic / filter studio, not a diffusion model, and says so in its metadata:
text→image draws a storyboard draft frame, image→video and text→video make an animatic with a
camera move read from the camera notes, image→image applies a named style filter. It needs no
key and no network and costs nothing.

Jobs run in worker threads (the work is CPU-bound); ``submit`` returns at once and ``status``
reports Running until the thread is done. Jobs live in this process only: after a restart an old
request id is reported as failed, and since the studio is deterministic and free, the caller may
simply submit again.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import tempfile
import time
import uuid
from collections import OrderedDict
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Literal

from PIL import Image, UnidentifiedImageError
from pydantic import Field

from reelforge.errors import InvalidInput, ProviderError, ReelforgeError
from reelforge.imaging.filters import apply_style
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
from reelforge.providers.briefs import SceneBrief
from reelforge.providers.local.animatic import render_animatic
from reelforge.providers.local.errors import LocalStudioError
from reelforge.providers.local.previz import render_previz
from reelforge.providers.pricing import PriceEntry, price_entry

__all__ = ["LocalStudio", "LocalStudioError", "LocalStudioOptions", "LocalStudioSettings"]

PREVIZ_MODEL = "reelforge-previz-1"
ANIMATIC_MODEL = "reelforge-animatic-1"
FILTER_MODEL = "reelforge-filter-1"
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

    def __init__(self, settings: LocalStudioSettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._jobs: OrderedDict[str, asyncio.Task[Succeeded]] = OrderedDict()

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
        task = asyncio.create_task(asyncio.to_thread(self._render, request, options))
        self._jobs[request_id] = task
        self._forget_old_jobs()
        return JobHandle(
            provider=self.id, request_id=request_id, model=_model_for(request.capability)
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
        return _model_for(capability)

    def priced(self, query: PriceQuery) -> CostEstimate:
        model = _model_for(query.capability)
        return CostEstimate(provider=self.id, model=model, amount_usd=Decimal("0"), basis="free")

    def price_entries(self) -> list[PriceEntry]:
        return [price_entry(self.id, "*", "any", Decimal(0), "runs on this machine", "built-in")]

    async def aclose(self) -> None:
        for task in self._jobs.values():
            task.cancel()
        self._jobs.clear()

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

    def _render(self, request: GenerationRequest, options: LocalStudioOptions) -> Succeeded:
        started = time.perf_counter()
        seed = request.seed if request.seed is not None else _seed_from(request.prompt)
        capability = request.capability
        if capability is Capability.TEXT_TO_IMAGE:
            image = render_previz(
                _brief(request), width=request.width, height=request.height, seed=seed
            )
            output = OutputMedia(data=_png(image), content_type="image/png")
        elif capability is Capability.IMAGE_TO_IMAGE:
            source = _decode_image(request, 0)
            preset = request.style_preset or "cinematic"
            styled = apply_style(source, preset, strength=options.strength)
            output = OutputMedia(data=_png(styled), content_type="image/png")
        else:
            if capability is Capability.TEXT_TO_VIDEO:
                # Drawn at 1.5x the clip's size so a push-in reveals detail, not upscaled pixels.
                frames = [
                    render_previz(
                        _brief(request),
                        width=_even(request.width * 3 // 2),
                        height=_even(request.height * 3 // 2),
                        seed=seed,
                    )
                ]
            else:
                frames = [_decode_image(request, i) for i in range(min(2, len(request.images)))]
            output = OutputMedia(data=self._animatic(request, frames), content_type="video/mp4")
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        metadata = GenerationMetadata(
            model=_model_for(request.capability),
            seed=seed,
            steps=0,
            inference_time_ms=elapsed_ms,
            extra={"kind": "previz" if not capability.makes_video else "animatic"},
        )
        return Succeeded(outputs=(output,), metadata=metadata, cost_usd=Decimal("0"))

    def _animatic(self, request: GenerationRequest, frames: list[Image.Image]) -> bytes:
        assert request.duration_s is not None
        strength = 0.5 if request.motion_strength is None else request.motion_strength
        with tempfile.TemporaryDirectory(prefix="reelforge-animatic-") as folder:
            out = Path(folder) / "clip.mp4"
            render_animatic(
                frames,
                out=out,
                duration_s=request.duration_s,
                camera=request.camera_notes
                or (request.scene.camera_notes if request.scene else ""),
                motion_strength=strength,
                width=request.width,
                height=request.height,
                fps=self.settings.fps,
                crf=self.settings.crf,
                preset=self.settings.encoder_preset,
            )
            return out.read_bytes()


def _model_for(capability: Capability) -> str:
    if capability.makes_video:
        return ANIMATIC_MODEL
    if capability is Capability.IMAGE_TO_IMAGE:
        return FILTER_MODEL
    return PREVIZ_MODEL


def _brief(request: GenerationRequest) -> SceneBrief:
    if request.scene is not None:
        return request.scene
    return SceneBrief(
        frame_id="PREVIZ", description=request.prompt, camera_notes=request.camera_notes
    )


def _even(value: int) -> int:
    return value - value % 2


def _seed_from(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _decode_image(request: GenerationRequest, index: int) -> Image.Image:
    source = request.images[index]
    assert source.data is not None  # checked at submit
    try:
        with Image.open(io.BytesIO(source.data)) as opened:
            return opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidInput(f"Input image {index} could not be decoded.") from exc
