"""The MCP tool ``generate_video_segments``: the segments spec's request and response."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from reelforge.features.segments.schemas import parse_request
from reelforge.features.segments.service import SegmentService
from reelforge.tool_errors import tool_errors

__all__ = ["register"]

_DESCRIPTION = (
    "Turn storyboard key frames into 1-3 short video segments (2-4 s each, 12 s in all). "
    "generated_frames: [{frame_id, image_url, scene_number, shot_order}]; storyboard_frames: "
    "[{frame_id, description, camera_notes, prompt_seed, lighting_mood?, duration_seconds?}] "
    "(the same frame ids); video_settings (optional): {duration_per_segment, motion_strength, "
    "provider_override}; project_context: {project_id, episode_id, trace_id?}; "
    "character_profiles (optional): [{name, visual_signature?, aliases?, character_id?, "
    "reference_image_url?}], named in the segments whose frames name them. Frames are grouped "
    "two per segment within a scene, never across scenes (at most 3 scenes per request). "
    "Answers "
    "{video_segments: [{segment_id, associated_frames, video_url, duration_seconds, "
    "provider_metadata}], failed_segments: [{segment_id, error, message}], run_id}; a segment "
    "still generating after the wait cap is a failed segment with error provider_pending and "
    "completes later (output_retrying: made and billed, its download being tried again). "
    "Nothing is retried. dry_run: true returns the cost estimate and the plan."
)


def register(server: MCPServer, service: SegmentService) -> None:
    """Add ``generate_video_segments`` over ``service`` to ``server``."""

    @server.tool(name="generate_video_segments", description=_DESCRIPTION)
    @tool_errors
    async def generate_video_segments(
        generated_frames: list[dict[str, Any]],
        storyboard_frames: list[dict[str, Any]],
        project_context: dict[str, Any],
        video_settings: dict[str, Any] | None = None,
        dry_run: bool = False,
        character_profiles: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "generated_frames": generated_frames,
            "storyboard_frames": storyboard_frames,
            "project_context": project_context,
            "dry_run": dry_run,
        }
        if video_settings is not None:
            data["video_settings"] = video_settings
        if character_profiles is not None:
            data["character_profiles"] = character_profiles
        return await service.generate(parse_request(data))
