"""The characters feature's shapes: its settings section, request bodies and vocabularies.

JSON uses the spec's camelCase names (``sourceUrl``, ``externalId``, ``createdAt``); request
bodies also accept snake_case. Only pydantic here: :mod:`reelforge.settings` imports the
settings section from this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    from reelforge.catalog.records import AssetRecord
    from reelforge.features.characters.repository import CharacterImageRecord, CharacterRecord

__all__ = [
    "DEFAULT_ANGLES",
    "IMAGE_KINDS",
    "IMAGE_STATUSES",
    "CharacterCreate",
    "CharacterLlmSettings",
    "CharacterSettings",
    "CharacterUpdate",
    "CharacterVisuals",
    "GenerateImageBody",
    "GeneratePortfolioBody",
    "GenerateSceneBody",
    "ImageKind",
    "ImageStatus",
    "character_view",
    "image_view",
]

ImageKind = Literal["reference", "portfolioItem", "scene"]
ImageStatus = Literal["succeeded", "failed"]
IMAGE_KINDS: tuple[str, ...] = get_args(ImageKind)
IMAGE_STATUSES: tuple[str, ...] = get_args(ImageStatus)

# A project id is also a budget scope id (reelforge.budget.scopes).
_PROJECT_ID = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"

DEFAULT_ANGLES = (
    "front",
    "front-right",
    "right",
    "back-right",
    "back",
    "back-left",
    "left",
    "front-left",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CharacterLlmSettings(_Section):
    """An OpenAI-compatible chat endpoint for suggestions: ``{base_url}/chat/completions``."""

    base_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:11434/v1")
    model: str = "gpt-4o-mini"
    api_key_env: str | None = Field(
        default=None, description="The variable holding the endpoint's key; none: no key sent"
    )
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    temperature: float = Field(default=0.7, ge=0, le=2)


class CharacterSettings(_Section):
    """``characters``: which provider makes images, how prompts are suggested, image sizes."""

    provider: str | None = Field(
        default=None,
        description="None: a configured provider that keeps characters, else default_provider",
    )
    suggester: Literal["deterministic", "llm"] = "deterministic"
    llm: CharacterLlmSettings = CharacterLlmSettings()
    wait_s: float = Field(
        default=600.0, ge=0, le=3600, description="How long a request waits for its images"
    )
    poll_interval_s: float = Field(default=0.25, ge=0.05, le=60)
    portrait_width: int = Field(default=720, ge=64, le=4096)
    portrait_height: int = Field(default=720, ge=64, le=4096)
    scene_width: int = Field(default=1280, ge=64, le=4096)
    scene_height: int = Field(default=720, ge=64, le=4096)
    angles: tuple[str, ...] = Field(
        default=DEFAULT_ANGLES, min_length=1, max_length=24, description="Views of a 360° set"
    )


class _Body(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=True
    )


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class CharacterVisuals(_Body):
    """The visual facts a prompt is built from; each optional, none invented."""

    role: str | None = Field(default=None, max_length=300)
    age: str | None = Field(default=None, max_length=100)
    gender: str | None = Field(default=None, max_length=100)
    appearance: str | None = Field(default=None, max_length=1000)
    hair: str | None = Field(default=None, max_length=300)
    eyes: str | None = Field(default=None, max_length=300)
    clothing: str | None = Field(default=None, max_length=1000)
    distinguishing_features: str | None = Field(default=None, max_length=1000)
    art_style: str | None = Field(default=None, max_length=300)

    _blanks = field_validator("*", mode="before")(_blank_to_none)


class CharacterCreate(_Body):
    name: str = Field(min_length=1, max_length=200)
    project_id: str | None = Field(default=None, max_length=128, pattern=_PROJECT_ID)
    description: str = Field(default="", max_length=5000)
    library_db_id: str | None = Field(default=None, max_length=255, pattern=r"^[\w\-.]+$")
    visual: CharacterVisuals = CharacterVisuals()


class CharacterUpdate(_Body):
    """A PATCH: only the fields given change; ``visual`` merges key by key (null clears)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    project_id: str | None = Field(default=None, max_length=128, pattern=_PROJECT_ID)
    description: str | None = Field(default=None, max_length=5000)
    library_db_id: str | None = Field(default=None, max_length=255, pattern=r"^[\w\-.]+$")
    visual: CharacterVisuals | None = None


class _Generate(_Body):
    dry_run: bool = Field(default=False, validation_alias=AliasChoices("dry_run", "dryRun"))


class GenerateImageBody(_Generate):
    """``POST /v1/characters/:id/generate-initial-image``: no prompt, the suggestion is used."""

    prompt: str | None = Field(default=None, max_length=4000)

    _blank = field_validator("prompt", mode="before")(_blank_to_none)


class GeneratePortfolioBody(_Generate):
    """``POST /v1/characters/:id/generate-360-set``: from a chosen reference (else the newest)."""

    reference_image_id: str | None = Field(default=None, max_length=64)


class GenerateSceneBody(_Generate):
    scene_context: str = Field(min_length=1, max_length=4000)


# -- views: the JSON faces return -----------------------------------------------------------


def character_view(record: CharacterRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "projectId": record.project_id,
        "description": record.description,
        "libraryDbId": record.library_db_id,
        "visual": dict(record.visual),
        "createdAt": record.created_at.isoformat(),
        "updatedAt": record.updated_at.isoformat(),
    }


def image_view(
    image: CharacterImageRecord, asset: AssetRecord | None, media: dict[str, Any] | None
) -> dict[str, Any]:
    """A metadata row joined with its media (``media``: the asset's public view, with URLs)."""
    return {
        "id": image.id,
        "characterId": image.character_id,
        "kind": image.kind,
        "provider": image.provider,
        "prompt": image.prompt,
        "sourceUrl": image.source_url,
        "externalId": image.external_id,
        "status": image.status,
        "error": image.error,
        "metrics": dict(image.metrics),
        "createdBy": image.created_by,
        "createdAt": image.created_at.isoformat(),
        "updatedAt": image.updated_at.isoformat(),
        "mediaId": image.asset_id,
        "url": media["url"] if media else None,
        "thumbnailUrl": (media.get("thumbnail_url") or media["url"]) if media else None,
        "width": asset.width if asset else None,
        "height": asset.height if asset else None,
        "media": media,
    }
