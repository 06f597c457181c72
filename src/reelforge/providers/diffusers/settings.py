"""The ``providers.diffusers`` settings section: which models, on which device, batched how.

A model is named once under ``models`` (name → a local folder, or the id of a model already in
the local Hugging Face cache) and chosen per capability. Nothing is downloaded unless
``allow_download`` says so: a model that is not on disk is a configuration error at first use.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from reelforge.providers.base import ProviderSettings

__all__ = ["Device", "DiffusersSettings", "Precision"]

Device = Literal["auto", "cpu", "cuda", "mps"]
Precision = Literal["auto", "float32", "float16", "bfloat16"]


class DiffusersSettings(ProviderSettings):
    models: dict[str, str] = Field(
        default_factory=dict,
        description="Model name -> a local pipeline folder or an already-downloaded model id",
    )
    text_to_image_model: str | None = Field(
        default=None, description="The model (a name under `models`) for text-to-image"
    )
    image_to_image_model: str | None = Field(
        default=None,
        description="The model for image-to-image; unset: the text-to-image model's pipeline, "
        "reused through diffusers' AutoPipelineForImage2Image (no second copy in memory)",
    )
    device: Device = Field(
        default="auto", description="auto: CUDA, then Apple MPS, then the CPU (slow, and said so)"
    )
    precision: Precision = Field(
        default="auto", description="auto: float16 on a GPU, float32 on the CPU"
    )
    allow_download: bool = Field(
        default=False, description="May a model id missing from the local cache be downloaded"
    )
    batch_size: int = Field(
        default=4, ge=1, le=64, description="Jobs of the same model and size in one pipeline call"
    )
    batch_window_s: float = Field(
        default=0.05,
        ge=0.0,
        le=5.0,
        description="How long the first job of a batch waits for others to join it",
    )
    memory_budget_mb: int = Field(
        default=16_000,
        ge=1,
        description="Pipelines kept loaded between jobs, by their weights' size; the least "
        "recently used are unloaded beyond it",
    )
    default_steps: int = Field(default=25, ge=1, le=500)
    max_width: int = Field(default=2048, ge=64, le=8192)
    max_height: int = Field(default=2048, ge=64, le=8192)

    @model_validator(mode="after")
    def _models_are_named(self) -> DiffusersSettings:
        for field in ("text_to_image_model", "image_to_image_model"):
            name = getattr(self, field)
            if name is not None and name not in self.models:
                known = ", ".join(sorted(self.models)) or "none"
                raise ValueError(
                    f"{field} names {name!r}, which is not under models (known: {known})"
                )
        return self

    def source(self, name: str) -> str:
        """Where model ``name`` is loaded from (its folder or model id)."""
        return self.models[name]
