"""``/v1/runs`` and ``/v1/jobs``: start any feature's run, look at runs and jobs, follow a run,
cancel work.

- ``POST /v1/runs`` ``{"feature", "input", "project_id"?, "callback_url"?}`` ``[?wait_s=N]``:
  start a run of any
  feature (the generic face of the one feature contract): ``input`` is the feature's own
  request. Answers ``202`` with where the run stands, or ``200`` with its response when it is
  done within ``wait_s``. ``GET /v1/features`` lists the features.
- ``GET /v1/runs/{id}/result[?wait_s=N]``: the same answer for a run already started.
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
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from reelforge.engine.feature_runs import FeatureRuns, RunResult
from reelforge.engine.service import EngineService
from reelforge.validation import NonNegativeInt64, last_event_id

__all__ = ["EngineServiceDep", "FeatureRunsDep", "engine_service", "router"]

router = APIRouter(tags=["runs"])

JobStatusFilter = Literal["queued", "running", "succeeded", "failed", "canceled"]


# Async, as every dependency here: FastAPI runs a plain function in its thread pool, one
# thread hop per request for a getattr.
async def engine_service(request: Request) -> EngineService:
    service: EngineService = request.app.state.services.engine
    return service


async def feature_runs(request: Request) -> FeatureRuns:
    runs: FeatureRuns = request.app.state.services.runs
    return runs


EngineServiceDep = Annotated[EngineService, Depends(engine_service)]
FeatureRunsDep = Annotated[FeatureRuns, Depends(feature_runs)]
WaitQuery = Annotated[float, Query(ge=0, le=300, description="Seconds to wait")]


class StartRun(BaseModel):
    """A run of any feature: its name and its own request."""

    model_config = ConfigDict(extra="forbid")

    feature: str = Field(min_length=1, max_length=64)
    input: dict[str, Any]
    project_id: str | None = Field(default=None, max_length=128)
    callback_url: str | None = Field(
        default=None, max_length=2048, description="Where the run's events are sent, signed"
    )


@router.get("/features")
async def list_features(runs: FeatureRunsDep) -> dict[str, Any]:
    return {"features": runs.names()}


@router.post(
    "/runs",
    responses={
        202: {"description": "Started; not done yet"},
        404: {"description": "NOT_FOUND: no feature of that name"},
    },
)
async def start_run(body: StartRun, runs: FeatureRunsDep, wait_s: WaitQuery = 0) -> JSONResponse:
    run_id = await runs.start(
        body.feature, body.input, project_id=body.project_id, callback_url=body.callback_url
    )
    return _result(await runs.result(run_id, wait_s=wait_s))


@router.get("/runs/{run_id}/result", responses={202: {"description": "Not done yet"}})
async def run_result(run_id: str, runs: FeatureRunsDep, wait_s: WaitQuery = 0) -> JSONResponse:
    return _result(await runs.result(run_id, wait_s=wait_s))


def _result(result: RunResult) -> JSONResponse:
    body = result.to_json()
    if result.run.done:
        return JSONResponse(body)
    return JSONResponse(body, status_code=202, headers={"Location": f"{body['run_url']}/result"})


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
    run_id: str, engine: EngineServiceDep, after: NonNegativeInt64 = 0
) -> dict[str, Any]:
    events = await engine.events(run_id, after)
    return {"events": [_event_json(event) for event in events]}


@router.get(
    "/runs/{run_id}/stream",
    response_class=EventSourceResponse,
    responses={200: {"description": "Server-sent events", "content": {"text/event-stream": {}}}},
)
async def stream_run(
    run_id: str,
    request: Request,
    engine: EngineServiceDep,
    after: NonNegativeInt64 = 0,
) -> EventSourceResponse:
    await engine.get_run(run_id)
    last_seen = last_event_id(request.headers.get("last-event-id"))
    start = after if last_seen is None else last_seen

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
    offset: NonNegativeInt64 = 0,
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
