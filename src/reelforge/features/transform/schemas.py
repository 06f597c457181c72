"""The Cinematic Switch's shapes: the request, the spec's response envelope, and the choices.

Success (the spec's; ``warnings`` only on partial success)::

    {"success": true, "result": {"provider": "ACME", "task": "IMAGE_GENERATION",
     "success": true, "data": {"transformed_media_urls": [...], "processing_time": 87.3,
     "model_used": "acme/restyle-v2", "variation_count": 2,
     "warnings": ["Failed to generate variation 3"], ...}}}

Beyond the spec (additive, as its versioning allows): ``data.transform_id`` (the catalog row)
and ``data.identity`` (each output image's face-identity distance to the input and whether it
passed the threshold: a soft signal, since strong stylisation moves it). Errors use the shared
envelope of :mod:`reelforge.api.errors`. A dry run answers ``result.dry_run: true`` with the
price estimate and the plan in ``data``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "ASPECT_RATIOS",
    "FEATURE",
    "MAX_OUTPUT_COUNT",
    "STYLE_PRESETS",
    "DryRunResult",
    "FinishedTransform",
    "IdentityScore",
    "Task",
    "TransformOutput",
    "TransformRequest",
    "TransformResult",
    "provider_label",
]

FEATURE = "transform"
MAX_OUTPUT_COUNT = 5
Task = Literal["IMAGE_GENERATION", "VIDEO_GENERATION"]

ASPECT_RATIOS: tuple[str, ...] = ("original", "1:1", "16:9", "9:16", "4:3", "3:4")

#: The presets a user may pick, each with the local studio filter that stands in for it offline.
STYLE_PRESETS: Mapping[str, str] = MappingProxyType(
    {
        "cinematic": "cinematic",
        "medieval": "vintage",
        "futuristic": "cinematic",
        "vintage": "vintage",
        "noir": "noir",
        "comic": "comic",
        "watercolor": "watercolor",
        "sketch": "sketch",
    }
)


def provider_label(provider_id: str) -> str:
    """A provider id as the spec writes it: upper case (``LOCAL``)."""
    return provider_id.upper()


@dataclass(frozen=True, slots=True)
class TransformRequest:
    """A checked request (see :func:`reelforge.features.transform.validation.parse_request`).

    ``verbatim_prompt``: the description is a whole prompt already (``/dev/run``'s ``prompt``)
    and goes to the provider without the template. ``provider``: asked for by name
    (``/dev/run``); used when its key is configured.
    """

    scene_description: str
    style_preset: str | None = None
    output_count: int = 1
    aspect_ratio: str = "original"
    keep_upload: bool = False
    dry_run: bool = False
    project_id: str | None = None
    verbatim_prompt: bool = False
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class IdentityScore:
    """How far an output's face is from the input's (dlib distance; lower is closer)."""

    distance: float | None
    passed: bool | None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"distance": self.distance, "passed": self.passed}
        if self.note is not None:
            body["note"] = self.note
        return body


@dataclass(frozen=True, slots=True)
class TransformOutput:
    """One transformed file, in the store."""

    variation: int
    asset_id: str
    url: str
    content_type: str
    identity: IdentityScore


@dataclass(frozen=True, slots=True)
class TransformResult:
    """A finished transform (all or some variations made)."""

    transform_id: str
    provider: str
    task: Task
    outputs: tuple[TransformOutput, ...]
    processing_time: float
    model_used: str
    warnings: tuple[str, ...]
    identity_threshold: float

    @property
    def urls(self) -> list[str]:
        return [output.url for output in self.outputs]

    def data(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "transformed_media_urls": self.urls,
            "processing_time": self.processing_time,
            "model_used": self.model_used,
            "variation_count": len(self.outputs),
        }
        if self.warnings:
            body["warnings"] = list(self.warnings)
        body["transform_id"] = self.transform_id
        body["identity"] = {
            "threshold": self.identity_threshold,
            "scores": [
                {"url": output.url, "variation": output.variation, **output.identity.to_json()}
                for output in self.outputs
            ],
        }
        return body

    def to_envelope(self) -> dict[str, Any]:
        return {
            "success": True,
            "result": {
                "provider": provider_label(self.provider),
                "task": self.task,
                "success": True,
                "data": self.data(),
            },
        }


@dataclass(frozen=True, slots=True)
class FinishedTransform:
    """A transform's response as its run's finish step stored it: the spec's envelope."""

    envelope: Mapping[str, Any]

    @property
    def model_used(self) -> str:
        return str(self.envelope["result"]["data"]["model_used"])

    def to_envelope(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self.envelope))


@dataclass(frozen=True, slots=True)
class DryRunResult:
    """What a transform would call and cost, without calling anything."""

    provider: str
    task: Task
    estimate: dict[str, Any]
    plan: dict[str, Any]

    def to_envelope(self) -> dict[str, Any]:
        return {
            "success": True,
            "result": {
                "provider": provider_label(self.provider),
                "task": self.task,
                "success": True,
                "dry_run": True,
                "data": {**self.estimate, "plan": self.plan},
            },
        }
