"""Loading diffusers pipelines, and keeping them loaded between jobs within a memory budget.

Everything here runs in the provider's one generation thread (:mod:`.batching`), never on the
event loop: loading reads gigabytes and moves them to the device. torch and diffusers are
imported on first use, so that a Reelforge without the ``diffusers`` extra (or one that never
uses this provider) starts without them.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from reelforge.errors import ConfigurationError
from reelforge.log import get_logger
from reelforge.providers.base import Capability
from reelforge.providers.diffusers.errors import DiffusersError
from reelforge.providers.diffusers.settings import DiffusersSettings

__all__ = ["LoadedPipeline", "PipelineCache", "import_torch"]

log = get_logger(__name__)
_MB = 1024 * 1024


def import_torch() -> tuple[Any, Any]:
    """``(torch, diffusers)``, or a ConfigurationError saying which extra to install."""
    try:
        return importlib.import_module("torch"), importlib.import_module("diffusers")
    except ImportError as exc:
        raise ConfigurationError(
            "The diffusers provider needs torch and diffusers: install the extra with "
            "`pip install 'reelforge[diffusers]'`.",
            details={"missing": exc.name},
        ) from None


@dataclass(slots=True)
class LoadedPipeline:
    name: str
    capability: Capability
    pipeline: Any
    size_bytes: int
    device: str


class PipelineCache:
    """Pipelines by (model, capability), least recently used first, unloaded beyond the budget.

    An image-to-image pipeline made from a text-to-image one shares its weights (diffusers'
    ``from_pipe``), so it costs no memory of its own and is counted once."""

    def __init__(self, settings: DiffusersSettings) -> None:
        self._settings = settings
        self._loaded: OrderedDict[tuple[str, Capability], LoadedPipeline] = OrderedDict()
        self._device: str | None = None

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = self._pick_device()
        return self._device

    def get(self, name: str, capability: Capability) -> LoadedPipeline:
        key = (name, capability)
        found = self._loaded.get(key)
        if found is not None:
            self._loaded.move_to_end(key)
            return found
        if capability is Capability.IMAGE_TO_IMAGE:
            loaded = self._image_to_image(name)
        else:
            loaded = self._load(name, capability)
        self._loaded[key] = loaded
        self._fit_budget(keep=key)
        return loaded

    def loaded(self) -> list[tuple[str, Capability]]:
        return list(self._loaded)

    def clear(self) -> None:
        self._loaded.clear()

    def _load(self, name: str, capability: Capability) -> LoadedPipeline:
        torch, diffusers = import_torch()
        source = self._settings.source(name)
        device = self.device
        try:
            pipeline = diffusers.DiffusionPipeline.from_pretrained(
                source,
                dtype=self._dtype(torch, device),
                local_files_only=not self._settings.allow_download,
            )
        except (OSError, ValueError) as exc:
            raise DiffusersError(
                f"Model {name!r} did not load from {source!r}: {exc}",
                provider="diffusers",
                details={"model": name},
            ) from None
        pipeline = pipeline.to(device)
        pipeline.set_progress_bar_config(disable=True)
        size = _weights_size(torch, pipeline)
        log.info("diffusers.loaded", model=name, device=device, size_mb=round(size / _MB, 1))
        return LoadedPipeline(name, capability, pipeline, size, device)

    def _image_to_image(self, name: str) -> LoadedPipeline:
        _, diffusers = import_torch()
        base = self.get(name, Capability.TEXT_TO_IMAGE)
        try:
            pipeline = diffusers.AutoPipelineForImage2Image.from_pipe(base.pipeline)
        except ValueError as exc:
            raise DiffusersError(
                f"Model {name!r} has no image-to-image pipeline: {exc}",
                provider="diffusers",
                details={"model": name},
            ) from None
        pipeline.set_progress_bar_config(disable=True)
        return LoadedPipeline(name, Capability.IMAGE_TO_IMAGE, pipeline, 0, base.device)

    def _fit_budget(self, keep: tuple[str, Capability]) -> None:
        budget = self._settings.memory_budget_mb * _MB
        while sum(p.size_bytes for p in self._loaded.values()) > budget:
            victim = next((key for key in self._loaded if key[0] != keep[0]), None)
            if victim is None:
                return  # the one in use is over budget on its own: keep it, it is needed now
            for key in [k for k in self._loaded if k[0] == victim[0]]:
                del self._loaded[key]
            log.info("diffusers.unloaded", model=victim[0])
            self._empty_device_cache()

    def _pick_device(self) -> str:
        torch, _ = import_torch()
        wanted = self._settings.device
        if wanted == "auto":
            if torch.cuda.is_available():
                return "cuda"
            mps = getattr(torch.backends, "mps", None)
            if mps is not None and mps.is_available():
                return "mps"
            wanted = "cpu"
        if wanted == "cpu":
            log.warning(
                "diffusers.cpu_fallback",
                message="No GPU in use: diffusion runs on the CPU, which works but is slow",
            )
        elif wanted == "cuda" and not torch.cuda.is_available():
            raise ConfigurationError(
                "providers.diffusers.device is cuda, but torch sees no CUDA device.",
                details={"setting": "providers.diffusers.device"},
            )
        return wanted

    def _dtype(self, torch: Any, device: str) -> Any:
        precision = self._settings.precision
        if precision == "auto":
            precision = "float32" if device == "cpu" else "float16"
        return getattr(torch, precision)

    def _empty_device_cache(self) -> None:
        if self._device == "cuda":
            torch, _ = import_torch()
            torch.cuda.empty_cache()


def _weights_size(torch: Any, pipeline: Any) -> int:
    total = 0
    for component in pipeline.components.values():
        if isinstance(component, torch.nn.Module):
            total += sum(p.numel() * p.element_size() for p in component.parameters())
    return int(total)
