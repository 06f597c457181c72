"""The characters feature as MCP tools: the same operations as the REST routes, same answers.

Characters: ``create_character``, ``get_character``, ``list_characters``, ``update_character``.
Images (the spec's routes): ``suggest_character_prompt``, ``generate_character_reference``,
``generate_character_360_set``, ``generate_character_scene_image`` (each with ``dry_run``),
``list_character_images``, ``delete_character_image``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from reelforge.features.characters.schemas import CharacterCreate, CharacterUpdate, parsed
from reelforge.features.characters.service import CharacterService
from reelforge.tool_errors import tool_errors

__all__ = ["register"]


def register(server: MCPServer, service: CharacterService) -> None:
    """Add the characters tools over ``service`` to ``server``."""

    @server.tool(
        name="create_character",
        description="Create a character. visual holds the facts image prompts are built from: "
        "role, age, gender, appearance, hair, eyes, clothing, distinguishingFeatures, artStyle.",
    )
    @tool_errors
    async def create_character(
        name: str,
        project_id: str | None = None,
        description: str = "",
        visual: dict[str, str] | None = None,
        library_db_id: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "projectId": project_id,
            "description": description,
            "visual": visual or {},
            "libraryDbId": library_db_id,
        }
        return {
            "success": True,
            "character": await service.create(parsed(CharacterCreate, body)),
        }

    @server.tool(name="get_character", description="A character and its stored facts.")
    @tool_errors
    async def get_character(character_id: str) -> dict[str, Any]:
        return {"success": True, "character": await service.get(character_id)}

    @server.tool(name="list_characters", description="Characters, newest first.")
    @tool_errors
    async def list_characters(project_id: str | None = None, limit: int = 50) -> dict[str, Any]:
        found = await service.list(project_id=project_id, limit=limit)
        return {"success": True, "characters": found}

    @server.tool(
        name="update_character",
        description="Change a character: changes holds the fields to set (name, projectId, "
        "description, libraryDbId, visual; visual merges key by key, null clears a key).",
    )
    @tool_errors
    async def update_character(character_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        body = parsed(CharacterUpdate, changes)
        return {"success": True, "character": await service.update(character_id, body)}

    @server.tool(
        name="suggest_character_prompt",
        description="The suggested prompt for a character's master reference image, built only "
        "from its stored facts (GET /v1/characters/{id}/initial-image-prompt).",
    )
    @tool_errors
    async def suggest_character_prompt(character_id: str) -> dict[str, Any]:
        return {"success": True, "prompt": await service.suggest_prompt(character_id)}

    @server.tool(
        name="generate_character_reference",
        description="Generate a master reference image (the suggested prompt when none is "
        "given); the image is ingested and listed with the character's images. dry_run: the "
        "plan and its cost only.",
    )
    @tool_errors
    async def generate_character_reference(
        character_id: str, prompt: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        return await service.generate_reference(character_id, prompt, dry_run=dry_run)

    @server.tool(
        name="generate_character_360_set",
        description="Generate the 360° portfolio from a reference image (the newest when "
        "reference_image_id is not given). dry_run: the plan and its cost only.",
    )
    @tool_errors
    async def generate_character_360_set(
        character_id: str, reference_image_id: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        return await service.generate_portfolio(character_id, reference_image_id, dry_run=dry_run)

    @server.tool(
        name="generate_character_scene_image",
        description="Generate an image of the character in a scene. dry_run: the plan only.",
    )
    @tool_errors
    async def generate_character_scene_image(
        character_id: str, scene_context: str, dry_run: bool = False
    ) -> dict[str, Any]:
        return await service.generate_scene(character_id, scene_context, dry_run=dry_run)

    @server.tool(
        name="list_character_images",
        description="A character's images, newest first, with kind, prompt, status and URLs.",
    )
    @tool_errors
    async def list_character_images(character_id: str) -> dict[str, Any]:
        return {"success": True, "images": await service.list_images(character_id)}

    @server.tool(
        name="delete_character_image",
        description="Delete an image: its record, file and thumbnail; a reference made by a "
        "provider that keeps characters is also deleted remotely (once; remote says how that "
        "went).",
    )
    @tool_errors
    async def delete_character_image(character_id: str, image_id: str) -> dict[str, Any]:
        return await service.delete_image(character_id, image_id)
