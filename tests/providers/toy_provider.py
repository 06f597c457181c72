"""A toy provider defined in the test tree: everything a provider declares, in one small class.

It draws a flat PNG in process (no network), answers to ``toy_ai`` and ``toybox`` as well as its
id, has its own error class (``TOY_ERROR``) and failure table, prices stills at $0.01 each (its
clips have no price), and turns a prompt holding ``[refuse]`` into a failure the vendor reports
as an HTTP 404 (its own error) and ``[busy]`` into a 503 (shared: unavailable, retryable).
Registering it is one line (``tests/providers/test_toy_provider.py``):
``PROVIDER_CLASSES | {ToyProvider.id: ToyProvider}``.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar

from PIL import Image
from pydantic import Field

from reelforge.errors import ConfigurationError, ProviderError
from reelforge.providers.base import (
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
    Succeeded,
)
from reelforge.providers.http import FailureTable, VendorFailure
from reelforge.providers.pricing import PriceEntry, price_entry

__all__ = ["FAILURES", "ToyError", "ToyOptions", "ToyProvider", "ToySettings"]

STILL_MODEL = "toy-still-1"
CLIP_MODEL = "toy-clip-1"
PRICE_SOURCE = "toy price list, 2026-01-02"


class ToyError(ProviderError):
    code = "TOY_ERROR"


FAILURES = FailureTable("toy", "Toy", ToyError, "TOY_KEY")


class ToySettings(ProviderSettings):
    still_model: str = STILL_MODEL
    usd_per_image: Decimal = Field(default=Decimal("0.01"), ge=0)


class ToyOptions(ProviderOptions):
    num_images: int = Field(default=1, ge=1, le=4)


class ToyProvider(Provider[ToySettings]):
    id: ClassVar[str] = "toy"
    display_name: ClassVar[str] = "Toy box"
    vendor_name: ClassVar[str] = "Toy"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TEXT_TO_IMAGE, Capability.IMAGE_TO_VIDEO}
    )
    options_model: ClassVar[type[ProviderOptions]] = ToyOptions
    settings_model: ClassVar[type[ProviderSettings]] = ToySettings
    error_class: ClassVar[type[ProviderError]] = ToyError
    aliases: ClassVar[frozenset[str]] = frozenset({"toybox"})
    model_aliases: ClassVar[Mapping[str, str]] = MappingProxyType({"flat": "toy-flat-2"})

    def __init__(self, settings: ToySettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._jobs: dict[str, JobState] = {}

    async def submit(self, request: GenerationRequest) -> JobHandle:
        self.check_request(request)
        model = request.model or self.default_model(request.capability)
        request_id = uuid.uuid4().hex
        self._jobs[request_id] = self._outcome(request, model)
        return JobHandle(provider=self.id, request_id=request_id, model=model)

    async def status(self, handle: JobHandle) -> JobState:
        return self._jobs.get(handle.request_id) or Failed(self.error("Unknown toy job."))

    async def cancel(self, handle: JobHandle) -> None:
        self._jobs.pop(handle.request_id, None)

    def default_model(self, capability: Capability) -> str:
        return CLIP_MODEL if capability.makes_video else self.settings.still_model

    def priced(self, query: PriceQuery) -> CostEstimate:
        options = self.validate_options(query.options)
        assert isinstance(options, ToyOptions)
        model = query.model or self.default_model(query.capability)
        if query.capability.makes_video:
            raise ConfigurationError(
                "No price is known for toy clips.", details={"provider": self.id, "model": model}
            )
        usd = self.settings.usd_per_image
        amount = usd * options.num_images
        basis = f"{options.num_images} image(s) x ${usd}/image ({PRICE_SOURCE})"
        return CostEstimate(provider=self.id, model=model, amount_usd=amount, basis=basis)

    def price_entries(self) -> list[PriceEntry]:
        usd = self.settings.usd_per_image
        return [price_entry(self.id, STILL_MODEL, "image", usd, PRICE_SOURCE, "built-in")]

    def _outcome(self, request: GenerationRequest, model: str) -> JobState:
        if "[refuse]" in request.prompt:
            return Failed(FAILURES.error("submit", VendorFailure("No such model.", 404)))
        if "[busy]" in request.prompt:
            return Failed(FAILURES.error("submit", VendorFailure("Overloaded.", 503)))
        if request.capability.makes_video:
            return Failed(self.error("The toy draws no clips."))
        buffer = io.BytesIO()
        Image.new("RGB", (request.width, request.height), (200, 120, 40)).save(buffer, "PNG")
        output = OutputMedia(data=buffer.getvalue(), content_type="image/png")
        metadata = GenerationMetadata(model=model, seed=request.seed, steps=request.steps)
        return Succeeded(outputs=(output,), metadata=metadata)
