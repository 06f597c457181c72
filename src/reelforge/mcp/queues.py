"""The queue tools: an operator's (or an agent's) hold on the engine's queues.

- ``queue_status``: per provider, jobs in flight, queued and held by a pause, the oldest wait;
  and the paused runs;
- ``pause_queue`` / ``resume_queue``: a provider's queue (``provider``) or one run
  (``run_id``): jobs not yet submitted wait, submitted ones finish;
- ``retry_run``: retry an ended run's failed jobs (new jobs, budget reserved anew);
- ``set_run_priority``: ``interactive`` or ``batch`` for the run's jobs still queued;
- ``cancel_queued``: cancel every job not yet submitted of a provider or of a project.
"""

# No ``from __future__ import annotations``: the MCP SDK reads these signatures at runtime.

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from reelforge.engine.queue_repository import PauseScope, QueuePause
from reelforge.engine.service import EngineService
from reelforge.engine.specs import Priority
from reelforge.errors import InvalidInput
from reelforge.tool_errors import tool_errors

__all__ = ["register_queue_tools"]

RunId = Annotated[str, Field(min_length=1, max_length=64)]
MaybeProvider = Annotated[str | None, Field(min_length=1, max_length=64)]
MaybeRun = Annotated[str | None, Field(min_length=1, max_length=64)]


def register_queue_tools(server: MCPServer, engine: EngineService) -> None:
    queues = engine.queues

    @server.tool(
        name="queue_status",
        description="Per provider: jobs in flight, queued, held by a pause, and the oldest "
        "queued job's wait in seconds; and the paused runs.",
    )
    @tool_errors
    async def queue_status() -> dict[str, Any]:
        return (await queues.view()).to_json()

    @server.tool(
        name="pause_queue",
        description="Pause a provider's queue (provider) or one run (run_id): jobs not yet "
        "submitted wait until resumed; submitted jobs finish.",
    )
    @tool_errors
    async def pause_queue(
        provider: MaybeProvider = None, run_id: MaybeRun = None
    ) -> dict[str, Any]:
        scope, target = _target(provider, run_id)
        return _pause_json(await queues.pause(scope, target))

    @server.tool(
        name="resume_queue",
        description="Resume a paused provider queue (provider) or run (run_id).",
    )
    @tool_errors
    async def resume_queue(
        provider: MaybeProvider = None, run_id: MaybeRun = None
    ) -> dict[str, Any]:
        scope, target = _target(provider, run_id)
        was_paused = await queues.resume(scope, target)
        return {"scope": scope, "target": target, "paused": False, "was_paused": was_paused}

    @server.tool(
        name="retry_run",
        description="Retry an ended run's failed jobs: new jobs, budget reserved anew; the "
        "failed ones stay in the run's history. Returns the run.",
    )
    @tool_errors
    async def retry_run(run_id: RunId) -> dict[str, Any]:
        return (await queues.retry(run_id)).to_json()

    @server.tool(
        name="set_run_priority",
        description="Raise (interactive) or lower (batch) the priority of a run's jobs still "
        "waiting on their provider queue.",
    )
    @tool_errors
    async def set_run_priority(run_id: RunId, priority: Priority) -> dict[str, Any]:
        moved = await queues.set_priority(run_id, priority)
        return {"run_id": run_id, "priority": priority, "requeued": moved}

    @server.tool(
        name="cancel_queued",
        description="Cancel every job not yet submitted of a provider (provider) or of a "
        "project's runs (project_id); submitted jobs go on.",
    )
    @tool_errors
    async def cancel_queued(
        provider: MaybeProvider = None,
        project_id: Annotated[str | None, Field(min_length=1, max_length=128)] = None,
    ) -> dict[str, Any]:
        canceled = await queues.cancel_queued(provider=provider, project_id=project_id)
        return {"canceled": canceled}


def _target(provider: str | None, run_id: str | None) -> tuple[PauseScope, str]:
    if provider is not None and run_id is None:
        return "provider", provider
    if run_id is not None and provider is None:
        return "run", run_id
    raise InvalidInput(
        "Name a provider or a run, not both.", details={"provider": provider, "run_id": run_id}
    )


def _pause_json(pause: QueuePause) -> dict[str, Any]:
    return {
        "scope": pause.scope,
        "target": pause.target,
        "paused": True,
        "paused_at": pause.paused_at.isoformat(),
    }
