"""What a provider is.

A provider turns a :class:`GenerationRequest` into media. Every adapter, hosted or local, has the
same narrow shape: ``submit`` returns a :class:`JobHandle`; ``status`` reads the job's state as one
of a closed set of typed states (:data:`JobState`); ``result`` returns the finished outputs;
``cancel`` reaches the vendor's cancel call; ``price`` prices a request from its parameters
(:class:`PriceQuery`: no prompt, no input images) before anything is sent, and ``default_model``
names the model a request without one gets; ``model_for_references`` names the model a request
carrying reference images goes to; ``verify_webhook`` and ``parse_webhook`` turn a vendor
callback into a :class:`WebhookEvent` (the base refuses every callback).

Everything about a vendor lives in its package and is declared on its adapter class: what it can
do (:class:`Capability`), how many reference images it takes per request and for which
capability (:attr:`Provider.reference_images`), the options it accepts (a pydantic model that
forbids unknown fields),
its settings (``providers.<id>``, the ``SettingsT`` of ``Provider[SettingsT]``), the environment
variable that holds its key (the vendor's own name, then the specs' names for it), its error
class (its own code, such as ``<VENDOR>_ERROR``), its aliases and model aliases, and its price
entries. Features and the budget read these through the registry and never name a vendor. Retry
policy is not the adapter's business: features decide it. Vendor errors are translated into
:mod:`reelforge.errors` inside the adapter, through the failure tables of
:mod:`reelforge.providers.http`.
"""

from __future__ import annotations

import base64
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from math import gcd
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeAlias

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from typing_extensions import TypeVar

from reelforge.errors import (
    InvalidInput,
    MissingCredential,
    ProviderError,
    ProviderPending,
    Unauthorized,
)
from reelforge.providers.briefs import SceneBrief
from reelforge.providers.pricing import PriceEntry
from reelforge.validation import invalid_input

__all__ = [
    "TERMINAL_STATES",
    "Canceled",
    "Capability",
    "CharacterKeeper",
    "CostEstimate",
    "Failed",
    "GenerationMetadata",
    "GenerationParams",
    "GenerationRequest",
    "InputImage",
    "JobHandle",
    "JobState",
    "OutputMedia",
    "PriceQuery",
    "Provider",
    "ProviderDeps",
    "ProviderOptions",
    "ProviderSettings",
    "Queued",
    "Running",
    "SubmissionLookup",
    "Succeeded",
    "UnknownProvider",
    "UnsupportedCapability",
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

    def as_url(self) -> str:
        """Its URL, or a ``data:`` URI of the bytes we hold (how fal, Replicate, Runway and the
        Character Library take an image sent inline)."""
        if self.url is not None:
            return self.url
        assert self.data is not None
        return f"data:{self.content_type};base64,{base64.b64encode(self.data).decode()}"


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
    """One generation as a provider gets it: the parameters, the input images loaded, the
    reference images loaded, the scene in structured form (for the local studio), and the URL to
    call back. A request that cannot be valid raises :class:`~reelforge.errors.InvalidInput`.

    ``images`` are what the capability works on (the frame an image-to-image or image-to-video
    request starts from); ``references`` only show what something looks like (a character's
    reference image, say), in order, and go only to a provider whose
    :attr:`Provider.reference_images` has room for them."""

    images: tuple[InputImage, ...] = ()
    references: tuple[InputImage, ...] = ()
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
        references: tuple[InputImage, ...] = (),
        scene: SceneBrief | None = None,
        webhook_url: str | None = None,
    ) -> GenerationRequest:
        """The request for ``params`` (a job spec's, say) with what only a request holds."""
        return cls(
            **params.generation_params(),
            images=images,
            references=references,
            scene=scene,
            webhook_url=webhook_url,
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
    """What identifies a submitted job at its provider. Holds no secret. ``cost_usd``: what the
    provider said on accepting the job that it bills, where it says so (kept with the job, so the
    charge settles at it even when the status answer names no cost)."""

    provider: str
    request_id: str
    model: str
    urls: Mapping[str, str] = field(default_factory=dict)
    cost_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CostEstimate:
    provider: str
    model: str
    amount_usd: Decimal
    basis: str


@dataclass(frozen=True, slots=True)
class PriceQuery:
    """What a price depends on: a request's parameters, without its prompt or input images.

    A dry run prices a plan before any input exists; a request prices itself through
    :meth:`of`. ``image_count`` says how many input images the request would carry,
    ``reference_count`` how many reference images (an adapter may send those to another model,
    :meth:`Provider.model_for_references`, which has a price of its own)."""

    capability: Capability
    model: str | None = None
    width: int = 1280
    height: int = 720
    duration_s: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    image_count: int = 0
    reference_count: int = 0

    @classmethod
    def of(cls, request: GenerationRequest) -> PriceQuery:
        return cls(
            capability=request.capability,
            model=request.model,
            width=request.width,
            height=request.height,
            duration_s=request.duration_s,
            options=request.options,
            image_count=len(request.images),
            reference_count=len(request.references),
        )


@dataclass(frozen=True, slots=True)
class SubmissionLookup:
    """A submission that may have reached the provider before this process died, as the
    engine asks after it on recovery: the request exactly as it was sent, and the moment the
    intent to send it was recorded (epoch seconds; a vendor's clock may differ a little, so
    adapters allow some slack)."""

    request: GenerationRequest
    submitted_after: float


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
    """What every adapter is built with. The HTTP client is shared and owned by the caller.
    ``state_dir``: a folder the adapters may keep small records of their own in (one folder per
    provider id below it, e.g. prices quoted by the vendor); None: nothing is kept."""

    http: httpx.AsyncClient
    environ: Mapping[str, str]
    state_dir: Path | None = None


class UnknownProvider(InvalidInput):
    """A provider name that is no registered id or alias."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"Unknown provider {name!r}.", details={"provider": name, "known": known})


class UnsupportedCapability(InvalidInput):
    """A provider asked for something it cannot do."""

    def __init__(
        self, provider: str, capability: Capability, supported: frozenset[Capability]
    ) -> None:
        super().__init__(
            f"Provider {provider!r} cannot do {capability.value}.",
            details={
                "provider": provider,
                "capability": capability.value,
                "supported": sorted(c.value for c in supported),
            },
        )


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def read_key(provider: str, env_var: str | Sequence[str], environ: Mapping[str, str]) -> str:
    """The provider key from ``environ``: from ``env_var``, or from the first of several names
    that is set; a clear error naming the variables if none is."""
    names = (env_var,) if isinstance(env_var, str) else tuple(env_var)
    for name in names:
        if not _ENV_NAME.match(name):
            raise InvalidInput(f"{name!r} is not an environment variable name.")
        value = environ.get(name, "").strip()
        if value:
            return value
    raise MissingCredential(provider, names[0], names[1:])


#: An adapter's settings model; a bare ``Provider`` means any adapter (``ProviderSettings``).
SettingsT = TypeVar("SettingsT", bound=ProviderSettings, covariant=True, default=ProviderSettings)


class Provider(ABC, Generic[SettingsT]):
    """Base class of every adapter. See the module docstring for the contract."""

    id: ClassVar[str]
    display_name: ClassVar[str]
    #: How messages name the vendor ("Acme refused the input").
    vendor_name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    options_model: ClassVar[type[ProviderOptions]] = ProviderOptions
    #: The settings section's model; the registry validates ``providers.<id>`` with it.
    settings_model: ClassVar[type[ProviderSettings]] = ProviderSettings
    #: The variable that holds the key, by the vendor's own name (its SDK's); None: no key.
    key_env: ClassVar[str | None] = None
    #: Other names the specs give the same key, read in this order when ``key_env`` is unset.
    key_env_aliases: ClassVar[tuple[str, ...]] = ()
    #: The provider's own error class, declared in its package (its code is the vendor's).
    error_class: ClassVar[type[ProviderError]] = ProviderError
    #: Other names users give the provider (the specs' names), matched case-insensitively.
    aliases: ClassVar[frozenset[str]] = frozenset()
    #: Short model names users give, and the vendor's model id each stands for.
    model_aliases: ClassVar[Mapping[str, str]] = MappingProxyType({})
    #: True when a video request may carry a first and a last key frame.
    accepts_last_frame: ClassVar[bool] = False
    #: How many key frames in order (the first, those between, the last) a video request may
    #: carry; None: the first, and the last where :attr:`accepts_last_frame`.
    max_key_frames: ClassVar[int | None] = None
    #: True when the provider calls back a webhook URL on completion.
    sends_webhooks: ClassVar[bool] = False
    #: True when :meth:`find_submissions` can ask the vendor which of its jobs match a request
    #: (a listing the vendor documents): a submission cut off by a crash is then adopted, not
    #: paid for again.
    finds_submissions: ClassVar[bool] = False
    #: The longest prompt the vendor takes, in characters; None: no limit of its own.
    max_prompt_chars: ClassVar[int | None] = None
    #: How long one job may take at this vendor before a feature gives up on it (seconds);
    #: None: the feature's default.
    job_timeout_s: ClassVar[float | None] = None
    #: Where the provider stands when a feature picks providers itself for a capability (lower
    #: first); a capability it does not list: it is used for that only when named.
    default_rank: ClassVar[Mapping[Capability, int]] = MappingProxyType({})
    #: How many reference images one request may carry, by capability (the vendor's documented
    #: way to take them, see each adapter's docstring); a capability it does not list takes
    #: none, and a feature then falls back to describing the character in text.
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType({})

    def __init__(self, settings: SettingsT, deps: ProviderDeps) -> None:
        self.settings: SettingsT = settings
        self.deps = deps

    @classmethod
    def resolve_model(cls, model: str | None) -> str | None:
        """The vendor's model id for ``model`` (a short alias, or already an id)."""
        if model is None:
            return None
        return cls.model_aliases.get(model.strip().lower(), model)

    @classmethod
    def key_envs(cls) -> tuple[str, ...]:
        """Every variable the key is read from, in order: the vendor's name, then the specs'."""
        return () if cls.key_env is None else (cls.key_env, *cls.key_env_aliases)

    @classmethod
    def key_source(cls, environ: Mapping[str, str]) -> str | None:
        """The name of the variable the key is read from (the first of :meth:`key_envs` that
        is set), if any. Only ever the name."""
        return next((name for name in cls.key_envs() if environ.get(name, "").strip()), None)

    @classmethod
    def is_configured(cls, section: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
        """Whether the provider can be called as set up: its key (if it takes one) is set,
        under any of its names."""
        return cls.key_env is None or cls.key_source(environ) is not None

    def api_key(self) -> str:
        """The key, read now from the environment; MissingCredential naming every variable it
        may be in when none is set."""
        return read_key(self.id, self.key_envs(), self.deps.environ)

    @classmethod
    def error(cls, message: str, *, details: dict[str, Any] | None = None) -> ProviderError:
        """A failure of this provider, carrying its own error code."""
        return cls.error_class(message, provider=cls.id, details=details)

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    @classmethod
    def reference_limit(cls, capability: Capability) -> int:
        """How many reference images a request for ``capability`` may carry (0: none)."""
        return cls.reference_images.get(capability, 0)

    def model_for_references(self, model: str | None, capability: Capability) -> str | None:
        """The model a request for ``capability`` that carries reference images goes to, when
        it asked for ``model`` (None: the default). The base keeps ``model``: every model of the
        adapter takes them. An adapter whose reference-taking model is another endpoint (fal's
        FLUX Kontext) names it, so that a plan shows, and prices, where the request goes."""
        return model

    def validate_options(self, options: Mapping[str, Any]) -> ProviderOptions:
        """Options checked against this provider's model; unknown fields are named."""
        try:
            return self.options_model.model_validate(dict(options))
        except ValidationError as exc:
            raise invalid_input(
                exc, f"Invalid options for provider {self.id!r}", details={"provider": self.id}
            ) from None

    def check_capability(self, capability: Capability) -> None:
        if not self.supports(capability):
            raise UnsupportedCapability(self.id, capability, self.capabilities)

    def check_request(self, request: GenerationRequest) -> ProviderOptions:
        """Refuse a request this provider cannot serve, before anything is sent."""
        self.check_capability(request.capability)
        self.check_references(request.capability, len(request.references))
        return self.validate_options(request.options)

    def check_references(self, capability: Capability, count: int) -> None:
        """Refuse more reference images than :attr:`reference_images` allows."""
        limit = self.reference_limit(capability)
        if count > limit:
            raise InvalidInput(
                f"Provider {self.id!r} takes at most {limit} reference image(s) for "
                f"{capability.value}; the request carries {count}.",
                details={
                    "provider": self.id,
                    "capability": capability.value,
                    "field": "references",
                    "max": limit,
                },
            )

    @abstractmethod
    async def submit(self, request: GenerationRequest) -> JobHandle:
        """Send the request; return as soon as the provider has accepted it."""

    def can_find_submission(self, request: GenerationRequest) -> bool:
        """Whether :meth:`find_submissions` can tell this request's submissions apart: the
        class's :attr:`finds_submissions`, unless the vendor's listing shows too little for some
        kinds of request (Leonardo's image-to-video). False: an empty lookup proves nothing."""
        return self.finds_submissions

    async def find_submissions(self, lookup: SubmissionLookup) -> list[JobHandle]:
        """The vendor's jobs that match ``lookup`` (same model and inputs, made after
        ``submitted_after``), oldest first; the engine adopts the first no other job holds.
        Only called when :attr:`finds_submissions` is True; the base finds nothing."""
        return []

    def held_result(self, handle: JobHandle) -> Succeeded | None:
        """The result of a job that finished inside :meth:`submit` (a synchronous vendor call
        kept in memory), without asking the vendor; None for a job that runs at the vendor.
        The engine stores it in the same step that submitted, so a restart never finds a
        synchronous result lost."""
        return None

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
            raise self.error("The job was canceled.")
        raise ProviderPending(
            "The provider has not finished this job yet.",
            provider=self.id,
            details={"request_id": handle.request_id},
        )

    @abstractmethod
    async def cancel(self, handle: JobHandle) -> None:
        """Ask the provider to stop the job. Idempotent."""

    @abstractmethod
    def default_model(self, capability: Capability) -> str:
        """The model a request for ``capability`` that names none gets (from the settings)."""

    def price(self, query: PriceQuery) -> CostEstimate:
        """Price a request from its parameters alone (nothing is sent, no image is needed).
        Raises ConfigurationError when no price is known, InvalidInput for a request the
        provider cannot serve."""
        self.check_capability(query.capability)
        return self.priced(query)

    @abstractmethod
    def priced(self, query: PriceQuery) -> CostEstimate:
        """The price of ``query``, its capability already checked (its options are the
        adapter's to check, as far as its price reads them)."""

    def estimate_cost(self, request: GenerationRequest) -> CostEstimate:
        """Price ``request`` before it is sent (from its parameters, as :meth:`price`)."""
        return self.price(PriceQuery.of(request))

    def price_entries(self) -> list[PriceEntry]:
        """Every price this adapter holds, for the price table (built-in facts, settings)."""
        return []

    async def refresh_prices(self) -> list[PriceEntry]:
        """Ask the vendor for its current prices and keep them for :meth:`price` (which never
        calls the vendor). Only an adapter whose vendor quotes prices over its API overrides
        this; the others' prices are built in or configured."""
        raise InvalidInput(
            f"{self.display_name} has no price service to ask: its prices are built in or "
            f"set under providers.{self.id} / budget.prices.{self.id}.",
            details={"provider": self.id, "reason": "no_price_service"},
        )

    def state_path(self, name: str) -> Path | None:
        """``name`` in this adapter's own folder under ``deps.state_dir`` (None: none kept)."""
        if self.deps.state_dir is None:
            return None
        return self.deps.state_dir / self.id / name

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise :class:`reelforge.errors.Unauthorized` unless the callback is authentic. The
        base refuses every callback: an adapter that takes webhooks overrides this."""
        raise Unauthorized(
            f"Provider {self.id!r} verifies no webhooks.",
            details={"provider": self.id, "reason": "no_verifier"},
        )

    async def verify_webhook_async(self, headers: Mapping[str, str], body: bytes) -> None:
        """What the webhook route calls. Adapters that must fetch keys (fal) override this."""
        self.verify_webhook(headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        """The normalised event, or None for a provider that sends no webhooks."""
        return None

    async def check_setup(self) -> None:
        """Ask the vendor whether it can serve what is configured (a self-hosted server's node
        classes for its workflows, say), at start-up; raise a ReelforgeError naming what is
        missing. The base asks nothing."""

    async def aclose(self) -> None:
        """Release what the adapter holds (it never owns the shared HTTP client)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id!r}>"


class CharacterKeeper(ABC):
    """What a provider that keeps characters of its own offers beyond generation.

    Such a provider (a character library) holds each character under its own id, makes a
    character's reference, 360° set and scene images from that (options ``kind``: ``reference``,
    ``portfolio`` or ``scene``; ``library_db_id``: its id; ``character_id``: ours), and is
    preferred for characters whenever it is configured. Adapters mix this in beside
    :class:`Provider`."""

    @abstractmethod
    async def delete_reference_image(self, library_db_id: str) -> bool:
        """Ask once (no retry) to delete the character's reference image; whether it did."""
