"""The characters feature over HTTP: the JSON API (under ``/v1``) and the workspace pages.

JSON (``router``, mounted under ``/v1``; every answer has ``success``):

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

Pages (``pages``): ``/screenplay/characters``, ``/screenplay/characters/{id}`` (detail, with
the Images link) and ``/screenplay/characters/{id}/images`` (the workspace).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse

from reelforge.api.deps import ServicesDep
from reelforge.errors import NotFound
from reelforge.features.characters.prompts import reference_prompt
from reelforge.features.characters.schemas import (
    CharacterCreate,
    CharacterUpdate,
    GenerateImageBody,
    GeneratePortfolioBody,
    GenerateSceneBody,
)
from reelforge.features.characters.service import CharacterService
from reelforge.features.characters.workflows import choose_provider
from reelforge.services import Services
from reelforge.web.pages import render

__all__ = ["pages", "router"]

router = APIRouter(prefix="/characters", tags=["characters"])
pages = APIRouter(prefix="/screenplay/characters", include_in_schema=False)


def _service(services: Services) -> CharacterService:
    return CharacterService.from_services(services)


def _generated(result: dict[str, Any], response: Response) -> dict[str, Any]:
    if result.get("dry_run"):
        response.status_code = status.HTTP_200_OK
    elif result.get("pending"):
        response.status_code = status.HTTP_202_ACCEPTED
    return result


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_character(body: CharacterCreate, services: ServicesDep) -> dict[str, Any]:
    return {"success": True, "character": await _service(services).create(body)}


@router.get("")
async def list_characters(
    services: ServicesDep,
    project_id: Annotated[str | None, Query(alias="projectId", max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    found = await _service(services).list(project_id=project_id, limit=limit, offset=offset)
    return {"success": True, "characters": found}


@router.get("/{character_id}")
async def get_character(character_id: str, services: ServicesDep) -> dict[str, Any]:
    return {"success": True, "character": await _service(services).get(character_id)}


@router.patch("/{character_id}")
async def update_character(
    character_id: str, body: CharacterUpdate, services: ServicesDep
) -> dict[str, Any]:
    return {"success": True, "character": await _service(services).update(character_id, body)}


@router.post("/{character_id}/generate-initial-image", status_code=status.HTTP_201_CREATED)
async def generate_initial_image(
    character_id: str,
    services: ServicesDep,
    response: Response,
    body: GenerateImageBody | None = None,
) -> dict[str, Any]:
    body = body or GenerateImageBody()
    result = await _service(services).generate_reference(
        character_id, body.prompt, dry_run=body.dry_run
    )
    return _generated(result, response)


@router.post("/{character_id}/generate-360-set", status_code=status.HTTP_201_CREATED)
async def generate_360_set(
    character_id: str,
    services: ServicesDep,
    response: Response,
    body: GeneratePortfolioBody | None = None,
) -> dict[str, Any]:
    body = body or GeneratePortfolioBody()
    result = await _service(services).generate_portfolio(
        character_id, body.reference_image_id, dry_run=body.dry_run
    )
    return _generated(result, response)


@router.post("/{character_id}/generate-scene-image", status_code=status.HTTP_201_CREATED)
async def generate_scene_image(
    character_id: str, body: GenerateSceneBody, services: ServicesDep, response: Response
) -> dict[str, Any]:
    result = await _service(services).generate_scene(
        character_id, body.scene_context, dry_run=body.dry_run
    )
    return _generated(result, response)


@router.get("/{character_id}/images")
async def list_images(character_id: str, services: ServicesDep) -> dict[str, Any]:
    return {"success": True, "images": await _service(services).list_images(character_id)}


@router.delete("/{character_id}/images/{image_id}")
async def delete_image(character_id: str, image_id: str, services: ServicesDep) -> dict[str, Any]:
    return await _service(services).delete_image(character_id, image_id)


@router.get("/{character_id}/initial-image-prompt")
async def initial_image_prompt(character_id: str, services: ServicesDep) -> dict[str, Any]:
    return {"success": True, "prompt": await _service(services).suggest_prompt(character_id)}


# -- pages -----------------------------------------------------------------------------------


@pages.get("", response_class=HTMLResponse)
async def characters_page(services: ServicesDep) -> HTMLResponse:
    found = await _service(services).list(limit=500)
    return render("characters/list.html", characters=found)


@pages.get("/{character_id}", response_class=HTMLResponse)
async def character_page(character_id: str, services: ServicesDep) -> HTMLResponse:
    try:
        character = await _service(services).get(character_id)
    except NotFound:
        return render("characters/missing.html", status_code=404, character_id=character_id)
    return render("characters/detail.html", character=character)


@pages.get("/{character_id}/images", response_class=HTMLResponse)
async def images_page(character_id: str, services: ServicesDep) -> HTMLResponse:
    service = _service(services)
    try:
        record = await service.record(character_id)
    except NotFound:
        return render("characters/missing.html", status_code=404, character_id=character_id)
    images = await service.list_images(character_id)
    return render(
        "characters/images.html",
        character=await service.get(character_id),
        # The page renders the factual suggestion at once; its script then asks the
        # configured suggester, and fills the box only if the user has not typed in it.
        suggestion=reference_prompt(record),
        images=images,
        references=[image for image in images if image["kind"] == "reference"],
        provider=choose_provider(services.settings, services.providers),
    )
