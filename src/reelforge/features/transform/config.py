"""The ``transform`` settings section: the spec's limits, providers, timeouts and the face rules.

Defaults follow the Cinematic Switch spec: images (JPG, PNG) up to 16 MB, videos (MP4, MOV) up
to 100 MB, a scene description of 10-2000 characters, a 60 s request timeout, a provider timeout
of 180 s unless the provider declares a longer one (``Provider.job_timeout_s``), and no retries.
The spec's error messages name 16 MB and 100 MB; change the byte limits only if you accept that
the message no longer matches.

A provider is *configured* when the environment variable holding its key is set; the first
configured provider of ``image_providers`` (``video_providers``: in fallback order) is used, and
the local studio (style filters, animatics) when none is: it only applies a style look (the
answer's ``warnings`` and ``model_used`` say so), and ``offline_fallback = false`` refuses
instead. Unset, each list is the providers' own
ranking for the capability (``Provider.default_rank``: the spec's choices). A provider's prompt
limit (``Provider.max_prompt_chars``) and timeout apply unless ``prompt_limits`` /
``provider_timeouts_s`` name it. The spec says descriptions are not logged in full: the prompt
holding one is sent, and not kept once its job ends, unless ``keep_prompts`` (or the request
keeps its upload).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["TransformSettings"]

_MiB = 1024 * 1024


class TransformSettings(BaseModel):
    """``[transform]`` in ``reelforge.toml``; ``REELFORGE_TRANSFORM__*`` in the environment."""

    model_config = ConfigDict(extra="forbid")

    image_max_bytes: int = Field(default=16 * _MiB, gt=0, description="Spec: 16 MB")
    video_max_bytes: int = Field(default=100 * _MiB, gt=0, description="Spec: 100 MB")
    description_min_chars: int = Field(default=10, ge=1)
    description_max_chars: int = Field(default=2000, ge=1)
    max_prompt_chars: int = Field(
        default=2000, ge=100, description="The assembled prompt is truncated to this"
    )
    prompt_limits: dict[str, int] = Field(
        default_factory=dict,
        description="Prompt limits by provider (characters); unset: the provider's own",
    )
    image_providers: list[str] | None = Field(
        default=None,
        description="Image-to-image providers, by preference; the first configured is used "
        "(unset: the providers' own ranking)",
    )
    video_providers: list[str] | None = Field(
        default=None,
        description="Image-to-video providers in fallback order (unset: the providers' ranking)",
    )
    offline_fallback: bool = Field(
        default=True,
        description="With no provider configured, let the offline studio stand in (it only "
        "applies a style look, and says so in the answer); false: refuse (503 NOT_CONFIGURED)",
    )
    request_timeout_s: float = Field(default=60.0, gt=0, description="A whole image transform")
    video_request_timeout_s: float = Field(
        default=600.0, gt=0, description="A whole video transform, fallback included"
    )
    provider_timeouts_s: dict[str, float] = Field(
        default_factory=dict, description="By provider; unset: the provider's own, else default"
    )
    default_provider_timeout_s: float = Field(default=180.0, gt=0)
    poll_interval_s: float = Field(default=2.0, ge=0.05, le=60.0)
    video_poll_interval_s: float = Field(
        default=5.0,
        ge=0.05,
        le=60.0,
        description="Video vendors ask for at most one poll per 5 s",
    )
    video_duration_s: float = Field(default=5.0, gt=0, le=10.0)
    max_output_side: int = Field(default=1440, ge=256, le=4096)
    identity_threshold: float = Field(
        default=0.6, gt=0, description="dlib distance under which a face is the same person"
    )
    min_face_height_ratio: float = Field(
        default=0.1, gt=0, lt=1, description="Face height / image height below this: too small"
    )
    min_face_px: int = Field(default=64, ge=16, description="Face height in pixels")
    face_detect_max_side: int = Field(default=1024, ge=80, le=4096)
    keep_uploads: bool = Field(
        default=False, description="Keep uploads after processing (a request may ask to keep)"
    )
    keep_prompts: bool = Field(
        default=False,
        description="Keep the exact prompt sent (it holds the description) in the job's row "
        "after the job ends; off, it is held only while the job runs. A request that keeps its "
        "upload keeps its prompt too, as the transforms table keeps its description",
    )

    @field_validator("prompt_limits", "provider_timeouts_s", mode="before")
    @classmethod
    def _lowercase_provider_ids(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k).lower(): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _description_range(self) -> TransformSettings:
        if self.description_min_chars > self.description_max_chars:
            raise ValueError("description_min_chars must not exceed description_max_chars")
        return self

    def provider_timeout_s(self, provider_id: str, declared: float | None = None) -> float:
        """The setting for ``provider_id``, else the provider's ``declared`` one, else the
        default."""
        if provider_id in self.provider_timeouts_s:
            return self.provider_timeouts_s[provider_id]
        return declared if declared is not None else self.default_provider_timeout_s

    def prompt_limit(self, provider_id: str, declared: int | None = None) -> int:
        """The setting for ``provider_id``, else the provider's ``declared`` limit, within
        ``max_prompt_chars``."""
        limit = self.prompt_limits.get(provider_id, declared)
        return self.max_prompt_chars if limit is None else min(self.max_prompt_chars, limit)
