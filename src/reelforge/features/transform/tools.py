"""The MCP tool ``cinematic_switch``: the transform for agents, with the same checks and answer.

``media`` is base64 (bare or a ``data:`` URI) or an http(s) URL fetched through safe ingest;
the other arguments are ``POST /generate/cinematic``'s fields. The answer is the spec's
envelope (``{"success": true, "result": {...}}``); errors are the shared JSON error envelope.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from reelforge.features.transform.service import TransformService
from reelforge.features.transform.validation import TEXT_MESSAGES, parse_request
from reelforge.tool_errors import tool_errors

__all__ = ["register"]

DESCRIPTION = (
    "The Cinematic Switch: put the person from a photo (JPG/PNG, max 16 MB, one clear face) or "
    "a video (MP4/MOV, max 100 MB) into the scene you describe (10-2000 characters). media: "
    "base64 or an http(s) URL. Optional: style_preset (cinematic, medieval, futuristic, vintage, "
    "noir, comic, watercolor, sketch), output_count 1-5, aspect_ratio (original, 1:1, 16:9, "
    "9:16, 4:3, 3:4), keep_upload, project_id, dry_run (price it, call no provider); "
    "character_id instead of media: a workspace character's newest reference image. Returns "
    "transformed_media_urls, processing_time, model_used, variation_count, warnings and an "
    "identity score per output."
)


def register(server: MCPServer, service: TransformService) -> None:
    """``cinematic_switch`` over ``service`` (the one built by the composition root)."""

    @server.tool(name="cinematic_switch", description=DESCRIPTION)
    @tool_errors(messages=TEXT_MESSAGES)
    async def cinematic_switch(
        scene_description: str,
        media: str | None = None,
        style_preset: str | None = None,
        output_count: int = 1,
        aspect_ratio: str = "original",
        keep_upload: bool = False,
        dry_run: bool = False,
        project_id: str | None = None,
        character_id: str | None = None,
    ) -> dict[str, Any]:
        fields = {
            "scene_description": scene_description,
            "style_preset": style_preset,
            "output_count": output_count,
            "aspect_ratio": aspect_ratio,
            "keep_upload": keep_upload,
            "dry_run": dry_run,
            "project_id": project_id,
        }
        request = parse_request(fields, service.settings)
        if media is None and character_id is not None:
            upload = await service.receive_character(character_id)
        else:
            upload = await service.receive_text(media, "media")
        outcome = await service.transform(request, upload, source="mcp")
        return outcome.to_envelope()
