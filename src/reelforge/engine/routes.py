"""``/v1/runs`` and ``/v1/jobs``: look at runs and jobs, follow a run, cancel work.

- ``GET /v1/runs/{id}[?wait_s=N]``: the run and its jobs; with ``wait_s``, wait up to N seconds
  (at most 300) for it to finish first. ``done`` says whether it did; ``pending`` lists jobs
  past their wait cap, which go on and finish later.
- ``GET /v1/runs/{id}/events[?after=ID]``: its progress events after an id, as JSON.
- ``GET /v1/runs/{id}/stream[?after=ID]``: the same as server-sent events, live, until the run
  completes (the SSE ``id`` is the event id: reconnect with ``Last-Event-ID``).
- ``POST /v1/runs/{id}/cancel``: cancel the run's unfinished jobs (at their providers too).
- ``GET /v1/jobs[?status=&provider=&limit=&offset=]``, ``GET /v1/jobs/{id}`` (with its
  history: every status change, poll result and webhook), ``POST /v1/jobs/{id}/cancel``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from reelforge.engine.service import EngineService
from reelforge.errors import ConfigurationError

__all__ = ["EngineServiceDep", "engine_service", "router"]

router = APIRouter(tags=["runs"])

JobStatusFilter = Literal["queued", "running", "succeeded", "failed", "canceled"]


def engine_service(request: Request) -> EngineService:
    service: EngineService | None = getattr(request.app.state.services, "engine", None)
    if service is None:
        raise ConfigurationError(
            "The job engine is not running in this process (open the services with an engine)."
        )
    return service


EngineServiceDep = Annotated[EngineService, Depends(engine_service)]


@router.get("/runs/{run_id}")
async def get_run(
    run_id: str,
    engine: EngineServiceDep,
    wait_s: Annotated[float, Query(ge=0, le=300)] = 0,
) -> dict[str, Any]:
    view = await engine.wait_for_run(run_id, wait_s)
    return view.to_json()


@router.get("/runs/{run_id}/events")
async def run_events(
    run_id: str, engine: EngineServiceDep, after: Annotated[int, Query(ge=0)] = 0
) -> dict[str, Any]:
    events = await engine.events(run_id, after)
    return {"events": [_event_json(event) for event in events]}


@router.get("/runs/{run_id}/stream")
async def stream_run(
    run_id: str,
    request: Request,
    engine: EngineServiceDep,
    after: Annotated[int, Query(ge=0)] = 0,
) -> EventSourceResponse:
    await engine.get_run(run_id)
    last_seen = request.headers.get("last-event-id", "")
    start = int(last_seen) if last_seen.isdigit() else after

    async def stream() -> AsyncIterator[ServerSentEvent]:
        async for event in engine.follow(run_id, start):
            yield ServerSentEvent(
                data=json.dumps(_event_json(event)), event=event.kind, id=str(event.id)
            )

    return EventSourceResponse(stream())


@router.post("/runs/{run_id}/cancel")
async def cancel_run(run_id: str, engine: EngineServiceDep) -> dict[str, Any]:
    return (await engine.cancel_run(run_id)).to_json()


@router.get("/jobs")
async def list_jobs(
    request: Request,
    engine: EngineServiceDep,
    status: JobStatusFilter | None = None,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    jobs = await engine.list_jobs(status=status, provider=provider, limit=limit, offset=offset)
    return {"jobs": [job.to_json() for job in jobs]}


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, engine: EngineServiceDep) -> dict[str, Any]:
    return (await engine.get_job(job_id)).to_json()


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(job_id: str, engine: EngineServiceDep) -> dict[str, Any]:
    return (await engine.cancel_job(job_id)).to_json()


def _event_json(event: Any) -> dict[str, Any]:
    return {
        "id": event.id,
        "run_id": event.run_id,
        "at": event.at.isoformat(),
        "kind": event.kind,
        "job_id": event.job_id,
        "payload": event.payload,
    }
