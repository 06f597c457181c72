"""The characters feature's shapes: request bodies, the run request, vocabularies and views.

JSON uses the spec's camelCase names (``sourceUrl``, ``externalId``, ``createdAt``); request
bodies also accept snake_case. :func:`parsed` is the one way every face turns JSON into these
models (pydantic's complaints become one ``INVALID_INPUT`` naming the fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from reelforge.validation import invalid_input

if TYPE_CHECKING:
    from reelforge.catalog.records import AssetRecord
    from reelforge.features.characters.repository import CharacterImageRecord, CharacterRecord

__all__ = [
    "IMAGE_KINDS",
    "IMAGE_STATUSES",
    "CharacterCreate",
    "CharacterImageRequest",
    "CharacterUpdate",
    "CharacterVisuals",
    "GenerateImageBody",
    "GeneratePortfolioBody",
    "GenerateSceneBody",
    "ImageKind",
    "ImageStatus",
    "character_view",
    "image_view",
    "parsed",
]

ImageKind = Literal["reference", "portfolioItem", "scene"]
ImageStatus = Literal["succeeded", "failed"]
IMAGE_KINDS: tuple[str, ...] = get_args(ImageKind)
IMAGE_STATUSES: tuple[str, ...] = get_args(ImageStatus)

# A project id is also a budget scope id (reelforge.budget.scopes).
_PROJECT_ID = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"

ModelT = TypeVar("ModelT", bound=BaseModel)


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


class CharacterImageRequest(_Body):
    """One generation as a run of the feature (what ``plan`` takes, and the ``input`` of
    ``POST /v1/runs`` with ``"feature": "characters"``): ``prompt`` for a reference (default:
    the suggestion), ``referenceImageId`` for a 360° set (default: the newest reference),
    ``sceneContext`` for a scene."""

    character_id: str = Field(min_length=1, max_length=64)
    kind: ImageKind
    prompt: str | None = Field(default=None, max_length=4000)
    reference_image_id: str | None = Field(default=None, max_length=64)
    scene_context: str | None = Field(default=None, max_length=4000)
    created_by: str | None = Field(default=None, max_length=128)

    _blank = field_validator("prompt", mode="before")(_blank_to_none)


def parsed(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """``data`` as ``model``; pydantic's complaints as one ``INVALID_INPUT`` naming the fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc, "Invalid character fields") from None


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
