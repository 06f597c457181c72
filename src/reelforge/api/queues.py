"""``/v1/queues`` and the run controls: an operator's hold on the engine's queues.

- ``GET /v1/queues``: per provider, jobs in flight (submitted), queued, and held by a pause,
  with the oldest queued job's wait; and the paused runs.
- ``POST /v1/queues/{provider}/pause``, ``.../resume``: the provider's jobs not yet submitted
  wait (submitted ones finish); resume lets them go.
- ``POST /v1/queues/cancel`` ``{"provider"} | {"project_id"}``: cancel every job not yet
  submitted of a provider, or of a project's runs.
- ``POST /v1/runs/{id}/pause``, ``.../resume``: the same for one run.
- ``POST /v1/runs/{id}/retry``: retry an ended run's failed jobs (new jobs, budget reserved
  anew, the failed ones kept in its history).
- ``POST /v1/runs/{id}/priority`` ``{"priority": "interactive" | "batch"}``: its jobs still on
  their queue are dequeued at that priority.

Every route needs the API token, as every ``/v1`` route does (the semantics:
:mod:`reelforge.engine.queue_control`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from reelforge.api.runs import EngineServiceDep
from reelforge.engine.queue_repository import QueuePause
from reelforge.engine.specs import Priority

__all__ = ["router"]

router = APIRouter(tags=["queues"])

ProviderId = Annotated[str, Path(min_length=1, max_length=64)]
RunId = Annotated[str, Path(min_length=1, max_length=64)]


class CancelQueued(BaseModel):
    """Whose queued jobs to cancel: a provider's or a project's (one of the two)."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = Field(default=None, min_length=1, max_length=64)
    project_id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_of_the_two(self) -> CancelQueued:
        if (self.provider is None) == (self.project_id is None):
            raise ValueError("give provider or project_id, not both")
        return self


class SetPriority(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority


@router.get("/queues")
async def queue_view(engine: EngineServiceDep) -> dict[str, Any]:
    return (await engine.queues.view()).to_json()


@router.post("/queues/cancel")
async def cancel_queued(body: CancelQueued, engine: EngineServiceDep) -> dict[str, Any]:
    canceled = await engine.queues.cancel_queued(provider=body.provider, project_id=body.project_id)
    return {"canceled": canceled}


@router.post("/queues/{provider}/pause")
async def pause_provider(provider: ProviderId, engine: EngineServiceDep) -> dict[str, Any]:
    return _pause_json(await engine.queues.pause("provider", provider))


@router.post("/queues/{provider}/resume")
async def resume_provider(provider: ProviderId, engine: EngineServiceDep) -> dict[str, Any]:
    resumed = await engine.queues.resume("provider", provider)
    return {"scope": "provider", "target": provider, "paused": False, "was_paused": resumed}


@router.post("/runs/{run_id}/pause")
async def pause_run(run_id: RunId, engine: EngineServiceDep) -> dict[str, Any]:
    return _pause_json(await engine.queues.pause("run", run_id))


@router.post("/runs/{run_id}/resume")
async def resume_run(run_id: RunId, engine: EngineServiceDep) -> dict[str, Any]:
    resumed = await engine.queues.resume("run", run_id)
    return {"scope": "run", "target": run_id, "paused": False, "was_paused": resumed}


@router.post("/runs/{run_id}/retry")
async def retry_run(run_id: RunId, engine: EngineServiceDep) -> dict[str, Any]:
    return (await engine.queues.retry(run_id)).to_json()


@router.post("/runs/{run_id}/priority")
async def set_priority(
    run_id: RunId, body: SetPriority, engine: EngineServiceDep
) -> dict[str, Any]:
    moved = await engine.queues.set_priority(run_id, body.priority)
    return {"run_id": run_id, "priority": body.priority, "requeued": moved}


def _pause_json(pause: QueuePause) -> dict[str, Any]:
    return {
        "scope": pause.scope,
        "target": pause.target,
        "paused": True,
        "paused_at": pause.paused_at.isoformat(),
    }
