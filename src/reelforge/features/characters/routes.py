"""The characters feature over REST, built over its service (``router(service)``), mounted
under ``/v1``; every answer has ``success``:

- ``POST /v1/characters``, ``GET /v1/characters[?projectId=]``, ``GET|PATCH /v1/characters/{id}``
- the spec's routes: ``POST /v1/characters/{id}/generate-initial-image`` ``{prompt?}``,
  ``POST /v1/characters/{id}/generate-360-set`` ``{referenceImageId?}``,
  ``POST /v1/characters/{id}/generate-scene-image`` ``{sceneContext}`` (each also takes
  ``"dry_run": true``: the plan and its estimate, nothing generated; 201 with ``images``, or
  202 with ``pending`` and the ``runId`` when the run outlives the request's wait),
  ``GET /v1/characters/{id}/images`` (newest first, each with its media and URLs),
  ``DELETE /v1/characters/{id}/images/{imageId}`` (``remote`` says what the provider that
  keeps the character did), ``GET /v1/characters/{id}/initial-image-prompt``
  ``{success, prompt}``.

The workspace pages: :mod:`reelforge.features.characters.pages`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from reelforge.features.characters.schemas import (
    CharacterCreate,
    CharacterUpdate,
    GenerateImageBody,
    GeneratePortfolioBody,
    GenerateSceneBody,
)
from reelforge.features.characters.service import CharacterService
from reelforge.validation import NonNegativeInt64

__all__ = ["router"]


_ANY_JSON = {"application/json": {"schema": {"type": "object"}}}
#: What a generation answers besides 201 with its images.
_GENERATED: dict[int | str, dict[str, Any]] = {
    200: {"description": "The dry run's plan and estimate", "content": _ANY_JSON},
    202: {"description": "Still generating: pending, with the runId", "content": _ANY_JSON},
}


def _generated(result: dict[str, Any], response: Response) -> dict[str, Any]:
    if result.get("dry_run"):
        response.status_code = status.HTTP_200_OK
    elif result.get("pending"):
        response.status_code = status.HTTP_202_ACCEPTED
    return result


def router(service: CharacterService) -> APIRouter:
    """The JSON routes over ``service`` (mount under ``/v1``)."""
    routes = APIRouter(prefix="/characters", tags=["characters"])

    @routes.post("", status_code=status.HTTP_201_CREATED)
    async def create_character(body: CharacterCreate) -> dict[str, Any]:
        return {"success": True, "character": await service.create(body)}

    @routes.get("")
    async def list_characters(
        project_id: Annotated[str | None, Query(alias="projectId", max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: NonNegativeInt64 = 0,
    ) -> dict[str, Any]:
        found = await service.list(project_id=project_id, limit=limit, offset=offset)
        return {"success": True, "characters": found}

    @routes.get("/{character_id}")
    async def get_character(character_id: str) -> dict[str, Any]:
        return {"success": True, "character": await service.get(character_id)}

    @routes.patch("/{character_id}")
    async def update_character(character_id: str, body: CharacterUpdate) -> dict[str, Any]:
        return {"success": True, "character": await service.update(character_id, body)}

    @routes.post(
        "/{character_id}/generate-initial-image",
        status_code=status.HTTP_201_CREATED,
        responses=_GENERATED,
    )
    async def generate_initial_image(
        character_id: str, response: Response, body: GenerateImageBody | None = None
    ) -> dict[str, Any]:
        body = body or GenerateImageBody()
        result = await service.generate_reference(character_id, body.prompt, dry_run=body.dry_run)
        return _generated(result, response)

    @routes.post(
        "/{character_id}/generate-360-set",
        status_code=status.HTTP_201_CREATED,
        responses=_GENERATED,
    )
    async def generate_360_set(
        character_id: str, response: Response, body: GeneratePortfolioBody | None = None
    ) -> dict[str, Any]:
        body = body or GeneratePortfolioBody()
        result = await service.generate_portfolio(
            character_id, body.reference_image_id, dry_run=body.dry_run
        )
        return _generated(result, response)

    @routes.post(
        "/{character_id}/generate-scene-image",
        status_code=status.HTTP_201_CREATED,
        responses=_GENERATED,
    )
    async def generate_scene_image(
        character_id: str, body: GenerateSceneBody, response: Response
    ) -> dict[str, Any]:
        result = await service.generate_scene(
            character_id, body.scene_context, dry_run=body.dry_run
        )
        return _generated(result, response)

    @routes.get("/{character_id}/images")
    async def list_images(character_id: str) -> dict[str, Any]:
        return {"success": True, "images": await service.list_images(character_id)}

    @routes.delete("/{character_id}/images/{image_id}")
    async def delete_image(character_id: str, image_id: str) -> dict[str, Any]:
        return await service.delete_image(character_id, image_id)

    @routes.get("/{character_id}/initial-image-prompt")
    async def initial_image_prompt(character_id: str) -> dict[str, Any]:
        return {"success": True, "prompt": await service.suggest_prompt(character_id)}

    return routes
