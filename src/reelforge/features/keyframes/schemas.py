"""The keyframes feature's shapes: the spec's ``render_storyboard_frames`` request and response.

Request (REST body, MCP arguments, the CLI's storyboard file)::

    {"storyboard_frames": [{"frame_id", "description", "camera_notes", "lighting_mood",
                            "prompt_seed"}],
     "character_profiles": [{"name", "visual_signature", "aliases", "character_id",
                             "reference_image_url"}],
     "render_settings": {"provider", "model", "aspect_ratio", "resolution", "guidance_scale",
                         "steps", "seed"},
     "dry_run": false}

Unknown fields are refused (``INVALID_INPUT`` naming each), as are duplicate frame ids and
duplicate character names. Additions to the spec, all optional: a frame's
``duration_seconds`` (the Storyboard Artist's field that motion segments read; accepted so
one storyboard feeds both, unused here), ``render_settings.resolution`` (``"WxH"``, the spec's
"override resolution") and ``dry_run``.

Response: ``generated_frames`` and ``failed_frames`` in request order, plus ``run_id`` (a dry
run answers :class:`KeyframesDryRun` instead). Each generated frame's ``provider_metadata``
holds ``seed``, ``model``, ``steps``, ``inference_time_ms`` (the spec's), plus ``provider`` and
``retry_count``; a frame the provider returned over the resolution cap, and that was scaled
down to fit it, says so in ``downscaled`` (absent otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reelforge.continuity import FaceCheck
from reelforge.errors import InvalidInput
from reelforge.prompts.characters import words
from reelforge.validation import invalid_input

__all__ = [
    "CastView",
    "CharacterConsistency",
    "CharacterProfile",
    "Downscale",
    "FaceCheck",
    "FailedFrame",
    "GeneratedFrame",
    "KeyframesDryRun",
    "KeyframesPending",
    "KeyframesRequest",
    "KeyframesResponse",
    "ListedCharacter",
    "PlannedFrameView",
    "ProviderMetadata",
    "RenderPlanView",
    "RenderSettings",
    "StoryboardFrame",
    "parse_request",
    "parse_storyboard",
]

MAX_SEED = 2**32 - 1
# A data: URI holds the whole image (base64): room for the ingest cap's usual images.
_MAX_REFERENCE_URL = 16_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListedCharacter(_Strict):
    """A character a frame lists: a profile's name (any form), or one of its own with its look."""

    name: str = Field(min_length=1, max_length=120, pattern=r"\w")
    visual_signature: str = Field(default="", max_length=500)


CharacterName = Annotated[str, Field(min_length=1, max_length=120, pattern=r"\w")]


class StoryboardFrame(_Strict):
    """One storyboard entry (the Storyboard Artist's output)."""

    frame_id: str = Field(min_length=1, max_length=128, pattern=r"\S")
    description: str = Field(min_length=1, max_length=2000)
    camera_notes: str = Field(default="", max_length=500)
    lighting_mood: str = Field(default="", max_length=500)
    prompt_seed: str = Field(default="", max_length=500)
    duration_seconds: float | None = Field(
        default=None, gt=0, le=60, description="Read by motion segments; unused here"
    )
    characters: list[CharacterName | ListedCharacter] | None = Field(
        default=None,
        max_length=32,
        description="Characters in this frame besides those its text names: a profile's name "
        "in any form, or {name, visual_signature} for one seen only here",
    )


class CharacterProfile(_Strict):
    """A character's visual signature, added to every frame that names the character in any
    form (:mod:`reelforge.prompts.cast`) or lists it; and its reference images, sent with those
    frames to a provider that takes them (:mod:`reelforge.references`)."""

    name: str = Field(min_length=1, max_length=120, pattern=r"\w")
    visual_signature: str = Field(default="", max_length=500)
    aliases: list[CharacterName] = Field(
        default_factory=list,
        max_length=16,
        description='Other names the storyboard uses ("the lamplighter")',
    )
    character_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="A workspace character (/v1/characters): its newest reference image goes "
        "with every frame that shows the character",
    )
    reference_image_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=_MAX_REFERENCE_URL,
        description="A reference image (http(s) URL or data: URI), fetched through safe ingest",
    )

    @field_validator("reference_image_url")
    @classmethod
    def _fetchable(cls, url: str | None) -> str | None:
        if url is not None and not url.lower().startswith(("http://", "https://", "data:")):
            raise ValueError("must be an http(s) URL or a data: URI")
        return url


class RenderSettings(_Strict):
    """Overrides shared by every frame of the request."""

    provider: str | None = Field(
        default=None,
        max_length=64,
        description="A provider id, or one of its aliases (see the feature's README)",
    )
    model: str | None = Field(default=None, min_length=1, max_length=200)
    aspect_ratio: str | None = Field(default=None, max_length=16, examples=["16:9"])
    resolution: str | None = Field(
        default=None, pattern=r"^\s*\d{2,5}\s*[xX]\s*\d{2,5}\s*$", examples=["1280x720"]
    )
    guidance_scale: float | None = Field(default=None, ge=0, le=30)
    steps: int | None = Field(default=None, ge=1, le=150)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


class KeyframesRequest(_Strict):
    """The MCP tool ``render_storyboard_frames``'s arguments; also ``POST /v1/keyframes``."""

    storyboard_frames: list[StoryboardFrame] = Field(min_length=1, max_length=200)
    character_profiles: list[CharacterProfile] = Field(default_factory=list, max_length=32)
    render_settings: RenderSettings | None = None
    dry_run: bool = Field(
        default=False, description="Return the plan and its cost estimate; call no provider"
    )

    @field_validator("storyboard_frames")
    @classmethod
    def _unique_frame_ids(cls, frames: list[StoryboardFrame]) -> list[StoryboardFrame]:
        seen: set[str] = set()
        for frame in frames:
            if frame.frame_id in seen:
                raise ValueError(f"duplicate frame_id {frame.frame_id!r}")
            seen.add(frame.frame_id)
        return frames

    @field_validator("character_profiles")
    @classmethod
    def _unique_names(cls, profiles: list[CharacterProfile]) -> list[CharacterProfile]:
        seen: set[tuple[str, ...]] = set()
        for profile in profiles:
            key = words(profile.name)
            if key in seen:
                raise ValueError(f"duplicate character name {profile.name!r}")
            seen.add(key)
        return profiles

    @property
    def settings(self) -> RenderSettings:
        return self.render_settings or RenderSettings()


class ProviderMetadata(BaseModel):
    """How a frame was made: the provider's facts, else what was asked of it; ``identity``:
    its characters' faces checked against their reference photos (absent when none has one
    with a face)."""

    seed: int | None
    model: str
    steps: int | None
    inference_time_ms: int | None
    provider: str
    retry_count: int
    identity: list[FaceCheck] | None = Field(default=None, exclude_if=lambda v: v is None)


class Downscale(BaseModel):
    """The provider's image was over the resolution cap: ``image_url`` is a copy scaled down
    to fit it (same aspect ratio); the original stays stored as ``original_asset_id``."""

    original_width: int
    original_height: int
    width: int
    height: int
    max_width: int
    max_height: int
    original_asset_id: str


class GeneratedFrame(BaseModel):
    frame_id: str
    image_url: str
    negative_prompts: list[str]
    provider_metadata: ProviderMetadata
    quality_score: float | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="1 - the largest identity distance of the frame's characters to their "
        "reference photos (0 when a face is missing), 0-1; absent when none is measured",
    )
    downscaled: Downscale | None = Field(default=None, exclude_if=lambda v: v is None)


class FailedFrame(BaseModel):
    frame_id: str
    error: str = Field(description="provider_timeout, provider_error, content_rejected, ...")


class CharacterConsistency(BaseModel):
    """One character across a run: the frames that show it, the faces found in them, and
    each frame's identity distance to the reference photo (None: no face found there)."""

    character: str
    reference: str = Field(description="The reference image's asset id")
    reference_face: bool = Field(description="Whether the reference photo shows a face")
    frames: int = Field(description="Generated frames that show the character")
    faces_found: int
    passed: int = Field(description="Frames whose face is under the threshold")
    mean_distance: float | None
    worst_distance: float | None
    distances: dict[str, float | None] = Field(description="By frame id")


class KeyframesResponse(BaseModel):
    """The spec's response, frames in request order, and the run that made it; with
    characters' reference photos, the consistency report and the frames it warns about."""

    generated_frames: list[GeneratedFrame]
    failed_frames: list[FailedFrame]
    run_id: str
    warnings: list[str] = Field(default_factory=list, exclude_if=lambda v: not v)
    consistency: list[CharacterConsistency] | None = Field(
        default=None, exclude_if=lambda v: v is None
    )


class CastView(BaseModel):
    """Who a frame shows, and why: ``matched_by`` is name, nickname, alias, title, first name,
    surname (found in the frame's text, ``as_written`` as words) or listed (its ``characters``).
    ``reference``: the character's first reference image (an asset id, or in a dry run the URL
    not yet fetched); absent when it has none."""

    name: str
    matched_by: str
    as_written: str
    reference: str | None = Field(default=None, exclude_if=lambda v: v is None)


class PlannedFrameView(BaseModel):
    """One frame of a dry run's plan: what would be asked of the provider."""

    frame_id: str
    seed: int | None
    prompt: str
    negative_prompts: list[str]
    characters: list[str]
    cast: list[CastView]
    model: str | None = Field(
        default=None, description="The model this frame goes to (one taking its references)"
    )
    references: list[str] = Field(
        default_factory=list, description="Reference images sent, in cast order, each once"
    )
    references_left_out: list[str] = Field(
        default_factory=list, description="Past the provider's limit, or all of them on fallback"
    )
    fallback_to_text: bool = Field(
        default=False,
        description="The cast has references, but the provider takes none: text only",
    )


class RenderPlanView(BaseModel):
    provider: str
    model: str | None
    width: int
    height: int
    aspect_ratio: str
    seed: int
    seed_policy: str
    template: dict[str, Any]
    frames: list[PlannedFrameView]


class KeyframesDryRun(BaseModel):
    """``"dry_run": true``: the budget's cost estimate of the plan (its fields, such as
    ``per_job`` and ``remaining_by_scope``, as ``POST /v1/costs/estimate`` gives them) and
    the plan itself; nothing is rendered, so there are no frames."""

    model_config = ConfigDict(extra="allow")

    dry_run: Literal[True]
    plan: str
    total_usd: str | None
    affordable: bool
    per_job: list[dict[str, Any]]
    render_plan: RenderPlanView


class KeyframesPending(BaseModel):
    """The run is still going after the wait: where to look next."""

    run_id: str
    status: str
    done: Literal[False] = False
    finished_frames: int
    total_frames: int
    result_url: str
    run_url: str
    page_url: str

    @classmethod
    def of(
        cls, service_url: str, run_id: str, status: str, finished: int, total: int
    ) -> KeyframesPending:
        """``service_url``: the public URL the links start with."""
        return cls(
            run_id=run_id,
            status=status,
            finished_frames=finished,
            total_frames=total,
            result_url=f"{service_url}/v1/keyframes/{run_id}",
            run_url=f"{service_url}/v1/runs/{run_id}",
            page_url=f"{service_url}/runs/{run_id}",
        )


def parse_request(data: Any) -> KeyframesRequest:
    """``data`` as a request; pydantic's complaints as one ``INVALID_INPUT`` naming the fields
    (the same shape the REST error handler gives)."""
    try:
        return KeyframesRequest.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None


def parse_storyboard(document: Any) -> tuple[str | None, KeyframesRequest]:
    """A storyboard file: the request, plus an optional ``title`` (shown, not sent)."""
    if not isinstance(document, dict):
        raise InvalidInput("A storyboard file holds a JSON object.", details={"field": "(body)"})
    fields = dict(document)
    title = fields.pop("title", None)
    if title is not None and not isinstance(title, str):
        raise InvalidInput("title must be a string.", details={"field": "title"})
    return title, parse_request(fields)
