"""The MCP tools of the keyframes feature.

- ``render_storyboard_frames``: the spec's tool. Arguments are the spec's request (plus
  ``dry_run``), validated by the same model as REST, so unknown fields anywhere are refused
  with ``INVALID_INPUT`` naming them. Answers the spec's response when the frames are done
  within ``keyframes.wait_s``, else ``{"run_id", "status", "done": false, ...}``.
- ``get_storyboard_frames``: a run's response (waiting up to ``wait_s``), or its progress.
"""

# No ``from __future__ import annotations``: the MCP SDK reads these signatures at runtime.

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field, WithJsonSchema

from reelforge.features.keyframes.schemas import (
    KeyframesPending,
    KeyframesRequest,
    KeyframesResponse,
    parse_request,
)
from reelforge.features.keyframes.service import KeyframesService
from reelforge.tool_errors import tool_errors

__all__ = ["register"]

DESCRIPTION = (
    "Render key frames for storyboard frames with consistent style and characters. Each frame's "
    "prompt combines its description, camera notes, lighting mood and prompt seed with the "
    "visual signature of every character it mentions. Returns generated_frames (frame_id, "
    "image_url, negative_prompts, provider_metadata) and failed_frames (frame_id, error) in "
    "request order; if rendering takes longer than the wait, returns the run_id to pass to "
    "get_storyboard_frames. dry_run: true returns the plan and cost estimate only."
)


def _request_schema() -> dict[str, Any]:
    """The request model's JSON schema with its ``$defs`` inlined, one entry per argument."""
    schema = KeyframesRequest.model_json_schema()
    definitions = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    properties: dict[str, Any] = inline(schema["properties"])
    return properties


_SCHEMA = _request_schema()


def register(server: MCPServer, service: KeyframesService, *, wait_s: float) -> None:
    """Add the keyframes tools over ``service`` to ``server``; ``wait_s``: how long a render
    waits before answering with its run id."""

    @server.tool(name="render_storyboard_frames", description=DESCRIPTION)
    @tool_errors
    async def render_storyboard_frames(
        ctx: Context,
        storyboard_frames: Annotated[
            list[dict[str, Any]], WithJsonSchema(_SCHEMA["storyboard_frames"])
        ],
        character_profiles: Annotated[
            list[dict[str, Any]] | None, WithJsonSchema(_SCHEMA["character_profiles"])
        ] = None,
        render_settings: Annotated[
            dict[str, Any] | None, WithJsonSchema(_SCHEMA["render_settings"])
        ] = None,
        dry_run: Annotated[bool, Field(description="Plan and estimate only")] = False,
    ) -> dict[str, Any]:
        given = {
            "storyboard_frames": storyboard_frames,
            "character_profiles": character_profiles,
            "render_settings": render_settings,
            "dry_run": dry_run,
        }
        request = parse_request(_raw_arguments(ctx) or {k: v for k, v in given.items() if v})
        outcome = await service.render(request, wait_s=wait_s)
        return _json(outcome)

    @server.tool(
        name="get_storyboard_frames",
        description="The result of a render_storyboard_frames run: its response when done "
        "(waiting up to wait_s seconds), else its progress.",
    )
    @tool_errors
    async def get_storyboard_frames(
        run_id: Annotated[str, Field(min_length=1, max_length=64)],
        wait_s: Annotated[float, Field(ge=0, le=300)] = 0,
    ) -> dict[str, Any]:
        return _json(await service.result(run_id, wait_s=wait_s))


def _raw_arguments(ctx: Context) -> dict[str, Any] | None:
    """The arguments exactly as the client sent them: the SDK drops unknown top-level ones
    before the tool sees them, and the spec wants them refused."""
    params = ctx.request_context.params
    arguments = params.get("arguments") if params is not None else None
    return dict(arguments) if isinstance(arguments, dict) else None


def _json(outcome: KeyframesResponse | KeyframesPending | dict[str, Any]) -> dict[str, Any]:
    if isinstance(outcome, KeyframesResponse | KeyframesPending):
        return outcome.model_dump(mode="json")
    return outcome
