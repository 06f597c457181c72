"""The generic run tools: any feature's run started, watched and canceled by an agent.

- ``list_features``: the features this server runs;
- ``start_run``: a run of any feature (``input`` is the feature's own request), answered with
  where it stands, or its response when done within ``wait_s``;
- ``get_run_result``: the same for a run already started (waiting up to ``wait_s``);
- ``cancel_run``: cancel a run's unfinished jobs, at their providers too;
- and the queue tools beside them (:mod:`reelforge.mcp.queues`).
"""

# No ``from __future__ import annotations``: the MCP SDK reads these signatures at runtime.

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from reelforge.engine.feature_runs import FeatureRuns
from reelforge.engine.service import EngineService
from reelforge.mcp.queues import register_queue_tools
from reelforge.tool_errors import tool_errors

__all__ = ["register_run_tools"]

RunId = Annotated[str, Field(min_length=1, max_length=64)]
WaitS = Annotated[float, Field(ge=0, le=300, description="Seconds to wait for the run")]


def register_run_tools(server: MCPServer, runs: FeatureRuns, engine: EngineService) -> None:
    @server.tool(name="list_features", description="The features runs can be started for.")
    @tool_errors
    async def list_features() -> dict[str, Any]:
        return {"features": runs.names()}

    @server.tool(
        name="start_run",
        description="Start a run of a feature (see list_features) with the feature's own "
        "request as input. Returns run_id, status, done, progress, and the response once done.",
    )
    @tool_errors
    async def start_run(
        feature: Annotated[str, Field(min_length=1, max_length=64)],
        input: dict[str, Any],
        project_id: Annotated[str | None, Field(max_length=128)] = None,
        wait_s: WaitS = 0,
        callback_url: Annotated[str | None, Field(max_length=2048)] = None,
    ) -> dict[str, Any]:
        run_id = await runs.start(feature, input, project_id=project_id, callback_url=callback_url)
        return (await runs.result(run_id, wait_s=wait_s)).to_json()

    @server.tool(
        name="get_run_result",
        description="Where a run stands, and its response once done (waiting up to wait_s).",
    )
    @tool_errors
    async def get_run_result(run_id: RunId, wait_s: WaitS = 0) -> dict[str, Any]:
        return (await runs.result(run_id, wait_s=wait_s)).to_json()

    @server.tool(
        name="cancel_run",
        description="Cancel a run's unfinished jobs (at their providers too); finished jobs "
        "keep their outputs.",
    )
    @tool_errors
    async def cancel_run(run_id: RunId) -> dict[str, Any]:
        return (await engine.cancel_run(run_id)).to_json()

    register_queue_tools(server, engine)
