"""What a provider is.

A provider turns a :class:`GenerationRequest` into media. Every adapter, hosted or local, has the
same narrow shape: ``submit`` returns a :class:`JobHandle`; ``status`` reads the job's state as one
of a closed set of typed states (:data:`JobState`); ``result`` returns the finished outputs;
``cancel`` reaches the vendor's cancel call; ``estimate_cost`` prices a request before it is sent;
``verify_webhook`` and ``parse_webhook`` turn a vendor callback into a :class:`WebhookEvent`.

An adapter declares what it can do (:class:`Capability`), the options it accepts (a pydantic model
that forbids unknown fields), its settings section (``providers.<id>`` in settings) and the
environment variable that holds its key. Retry policy is not the adapter's business: features
decide it. Vendor errors are translated into :mod:`reelforge.errors` inside the adapter.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from math import gcd
from typing import Any, ClassVar, TypeAlias

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reelforge.errors import (
    InvalidInput,
    MissingCredential,
    ProviderError,
    ProviderPending,
)
from reelforge.providers.briefs import SceneBrief
from reelforge.validation import invalid_input

__all__ = [
    "TERMINAL_STATES",
    "Canceled",
    "Capability",
    "CostEstimate",
    "Failed",
    "GenerationMetadata",
    "GenerationParams",
    "GenerationRequest",
    "InputImage",
    "JobHandle",
    "JobState",
    "OutputMedia",
    "Provider",
    "ProviderDeps",
    "ProviderOptions",
    "ProviderSettings",
    "Queued",
    "Running",
    "Succeeded",
    "WebhookEvent",
    "read_key",
]


class Capability(StrEnum):
    TEXT_TO_IMAGE = "text_to_image"
    IMAGE_TO_IMAGE = "image_to_image"
    IMAGE_TO_VIDEO = "image_to_video"
    TEXT_TO_VIDEO = "text_to_video"

    @property
    def makes_video(self) -> bool:
        return self in (Capability.IMAGE_TO_VIDEO, Capability.TEXT_TO_VIDEO)

    @property
    def needs_image(self) -> bool:
        return self in (Capability.IMAGE_TO_IMAGE, Capability.IMAGE_TO_VIDEO)


class ProviderOptions(BaseModel):
    """Vendor-specific request options. Subclasses add fields; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSettings(BaseModel):
    """A provider's own settings section (``providers.<id>``). Subclasses add fields."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    timeout_s: float = Field(default=60.0, gt=0)


@dataclass(frozen=True, slots=True)
class InputImage:
    """An image given to a provider: bytes we hold, or a URL the provider can fetch."""

    content_type: str
    data: bytes | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise InvalidInput("An input image needs exactly one of data or url.")


class GenerationParams(BaseModel):
    """What a generation is asked to make, whoever asks: the engine's job spec is made of it,
    and so is the provider's request, so the two never drift apart. Unknown fields are refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    capability: Capability
    prompt: str = Field(max_length=20_000)
    negative_prompt: str = ""
    model: str | None = None
    width: int = Field(default=1280, gt=0, le=8192)
    height: int = Field(default=720, gt=0, le=8192)
    seed: int | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    duration_s: float | None = None
    motion_strength: float | None = None
    camera_notes: str = ""
    style_preset: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    def generation_params(self) -> dict[str, Any]:
        """These parameters by name, without a subclass's own fields (a spec's policies)."""
        return {name: getattr(self, name) for name in GenerationParams.model_fields}

    @property
    def aspect_ratio(self) -> str:
        divisor = gcd(self.width, self.height)
        return f"{self.width // divisor}:{self.height // divisor}"


class GenerationRequest(GenerationParams):
    """One generation as a provider gets it: the parameters, the input images loaded, the scene
    in structured form (for the local studio), and the URL to call back. A request that cannot
    be valid raises :class:`~reelforge.errors.InvalidInput`."""

    images: tuple[InputImage, ...] = ()
    scene: SceneBrief | None = None
    webhook_url: str | None = None

    def __init__(self, capability: Capability, prompt: str, **fields: Any) -> None:
        # Capability and prompt may come by position, as adapters' callers have always given them.
        try:
            super().__init__(capability=capability, prompt=prompt, **fields)
        except ValidationError as exc:
            raise _invalid_request(exc) from None

    @classmethod
    def of(
        cls,
        params: GenerationParams,
        *,
        images: tuple[InputImage, ...] = (),
        scene: SceneBrief | None = None,
        webhook_url: str | None = None,
    ) -> GenerationRequest:
        """The request for ``params`` (a job spec's, say) with what only a request holds."""
        return cls(
            **params.generation_params(), images=images, scene=scene, webhook_url=webhook_url
        )

    @model_validator(mode="after")
    def _servable(self) -> GenerationRequest:
        if self.capability.needs_image and not self.images:
            raise InvalidInput(f"{self.capability.value} needs at least one input image.")
        if self.capability.makes_video and (self.duration_s is None or self.duration_s <= 0):
            raise InvalidInput("A video request needs a positive duration_s.")
        return self


def _invalid_request(exc: ValidationError) -> InvalidInput:
    problems = [
        {"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
        for err in exc.errors()
    ]
    names = ", ".join(p["field"] for p in problems)
    return InvalidInput(f"Invalid generation request: {names}.", details={"fields": problems})


@dataclass(frozen=True, slots=True)
class OutputMedia:
    """One output: a URL to ingest, or bytes the provider returned inline."""

    url: str | None = None
    data: bytes | None = None
    content_type: str | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError("An output needs exactly one of data or url.")


@dataclass(frozen=True, slots=True)
class GenerationMetadata:
    """What the spec calls ``provider_metadata``: honest facts about how an output was made."""

    model: str
    seed: int | None = None
    steps: int | None = None
    inference_time_ms: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Queued:
    position: int | None = None


@dataclass(frozen=True, slots=True)
class Running:
    progress: float | None = None
    logs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Succeeded:
    outputs: tuple[OutputMedia, ...]
    metadata: GenerationMetadata
    cost_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    error: ProviderError


@dataclass(frozen=True, slots=True)
class Canceled:
    reason: str = ""


JobState: TypeAlias = Queued | Running | Succeeded | Failed | Canceled
TERMINAL_STATES = (Succeeded, Failed, Canceled)


@dataclass(frozen=True, slots=True)
class JobHandle:
    """What identifies a submitted job at its provider. Holds no secret."""

    provider: str
    request_id: str
    model: str
    urls: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CostEstimate:
    provider: str
    model: str
    amount_usd: Decimal
    basis: str


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified vendor callback, normalised. ``event_id`` lets duplicates be recognised."""

    provider: str
    request_id: str
    state: JobState
    event_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderDeps:
    """What every adapter is built with. The HTTP client is shared and owned by the caller."""

    http: httpx.AsyncClient
    environ: Mapping[str, str]


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def read_key(provider: str, env_var: str, environ: Mapping[str, str]) -> str:
    """The provider key from ``environ``; a clear error naming the variable if it is missing."""
    if not _ENV_NAME.match(env_var):
        raise InvalidInput(f"{env_var!r} is not an environment variable name.")
    value = environ.get(env_var, "").strip()
    if not value:
        raise MissingCredential(provider, env_var)
    return value


class Provider(ABC):
    """Base class of every adapter. See the module docstring for the contract."""

    id: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    options_model: ClassVar[type[ProviderOptions]] = ProviderOptions
    settings_model: ClassVar[type[ProviderSettings]] = ProviderSettings
    key_env: ClassVar[str | None] = None
    #: True when a video request may carry a first and a last key frame.
    accepts_last_frame: ClassVar[bool] = False
    #: True when the provider calls back a webhook URL on completion.
    sends_webhooks: ClassVar[bool] = False

    def __init__(self, settings: ProviderSettings, deps: ProviderDeps) -> None:
        self.settings = settings
        self.deps = deps

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def validate_options(self, options: Mapping[str, Any]) -> ProviderOptions:
        """Options checked against this provider's model; unknown fields are named."""
        try:
            return self.options_model.model_validate(dict(options))
        except ValidationError as exc:
            raise invalid_input(
                exc, f"Invalid options for provider {self.id!r}", details={"provider": self.id}
            ) from None

    def check_request(self, request: GenerationRequest) -> ProviderOptions:
        """Refuse a request this provider cannot serve, before anything is sent."""
        if not self.supports(request.capability):
            raise InvalidInput(
                f"Provider {self.id!r} cannot do {request.capability.value}.",
                details={
                    "provider": self.id,
                    "capability": request.capability.value,
                    "supported": sorted(c.value for c in self.capabilities),
                },
            )
        return self.validate_options(request.options)

    @abstractmethod
    async def submit(self, request: GenerationRequest) -> JobHandle:
        """Send the request; return as soon as the provider has accepted it."""

    @abstractmethod
    async def status(self, handle: JobHandle) -> JobState:
        """The job's current state, parsed from the vendor's wire format in one place."""

    async def result(self, handle: JobHandle) -> Succeeded:
        """The finished outputs. Raises the job's error, or ProviderPending if not finished."""
        state = await self.status(handle)
        if isinstance(state, Succeeded):
            return state
        if isinstance(state, Failed):
            raise state.error
        if isinstance(state, Canceled):
            raise ProviderError.for_provider(self.id, "The job was canceled.")
        raise ProviderPending(
            "The provider has not finished this job yet.",
            provider=self.id,
            details={"request_id": handle.request_id},
        )

    @abstractmethod
    async def cancel(self, handle: JobHandle) -> None:
        """Ask the provider to stop the job. Idempotent."""

    @abstractmethod
    def estimate_cost(self, request: GenerationRequest) -> CostEstimate:
        """Price the request before it is sent, from the provider's price table."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:  # noqa: B027
        """Raise :class:`reelforge.errors.Unauthorized` unless the callback is authentic."""

    async def verify_webhook_async(self, headers: Mapping[str, str], body: bytes) -> None:
        """What the webhook route calls. Adapters that must fetch keys (fal) override this."""
        self.verify_webhook(headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        """The normalised event, or None for a provider that sends no webhooks."""
        return None

    async def aclose(self) -> None:  # noqa: B027
        """Release what the adapter holds (it never owns the shared HTTP client)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id!r}>"
