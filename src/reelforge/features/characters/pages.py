"""The character workspace pages, built over the service (``page_router(service)``):
``/screenplay/characters`` (the list), ``/screenplay/characters/{id}`` (detail, with the Images
link) and ``/screenplay/characters/{id}/images`` (the workspace).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from reelforge.errors import NotFound
from reelforge.facekit.pages import render
from reelforge.features.characters.prompting import reference_prompt
from reelforge.features.characters.service import CharacterService

__all__ = ["page_router"]


def page_router(service: CharacterService) -> APIRouter:
    """The workspace pages over ``service``."""
    pages = APIRouter(prefix="/screenplay/characters", include_in_schema=False)

    @pages.get("", response_class=HTMLResponse)
    async def characters_page() -> HTMLResponse:
        found = await service.list(limit=500)
        return render("characters/list.html", characters=found)

    @pages.get("/{character_id}", response_class=HTMLResponse)
    async def character_page(character_id: str) -> HTMLResponse:
        try:
            character = await service.get(character_id)
        except NotFound:
            return render("characters/missing.html", status_code=404, character_id=character_id)
        return render("characters/detail.html", character=character)

    @pages.get("/{character_id}/images", response_class=HTMLResponse)
    async def images_page(character_id: str) -> HTMLResponse:
        try:
            record = await service.character_record(character_id)
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
            provider=service.image_provider(),
        )

    return pages
