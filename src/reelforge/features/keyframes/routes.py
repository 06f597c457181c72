"""``/v1/keyframes``: render a storyboard's key frames.

- ``POST /v1/keyframes[?wait_s=N&project_id=P]``: the spec's request. Answers ``200`` with
  the spec's response when the frames are done within the wait (``wait_s``, default
  ``keyframes.wait_s``), else ``202`` with the run id and where to look
  (:class:`~reelforge.features.keyframes.schemas.KeyframesPending`; ``Location`` names the
  result). ``"dry_run": true`` answers ``200`` with the plan and its cost estimate, calling no
  provider. ``project_id`` charges the run to that project's budget.
- ``GET /v1/keyframes/{run_id}[?wait_s=N]``: the response of a run (``200``), or its progress
  (``202``) while it goes on. ``GET /v1/runs/{run_id}`` (the engine's) shows the jobs, and the
  response once built; ``/runs/{run_id}`` is the live page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from reelforge.features.keyframes.schemas import (
    KeyframesDryRun,
    KeyframesPending,
    KeyframesRequest,
    KeyframesResponse,
)
from reelforge.features.keyframes.service import KeyframesService

__all__ = ["router"]

WaitQuery = Annotated[float | None, Query(ge=0, le=300, description="Seconds to wait")]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": KeyframesResponse, "description": "Done: the frames"},
    202: {"model": KeyframesPending, "description": "Still rendering: the run id"},
}
_RENDER_RESPONSES = _RESPONSES | {
    200: {
        "model": KeyframesResponse | KeyframesDryRun,
        "description": "Done: the frames; or, for a dry run, the plan and its estimate",
    },
}


def router(service: KeyframesService, *, wait_s: float) -> APIRouter:
    """The keyframes routes over ``service``; ``wait_s``: how long a render waits by default."""
    routes = APIRouter(tags=["keyframes"])

    @routes.post("/keyframes", responses=_RENDER_RESPONSES)
    async def render_keyframes(
        body: KeyframesRequest,
        wait_s: WaitQuery = None,
        project_id: Annotated[str | None, Query(max_length=128)] = None,
    ) -> JSONResponse:
        """The MCP tool ``render_storyboard_frames``, over REST."""
        wait = default_wait_s if wait_s is None else wait_s
        return _answer(await service.render(body, wait_s=wait, project_id=project_id))

    @routes.get("/keyframes/{run_id}", responses=_RESPONSES)
    async def keyframes_result(run_id: str, wait_s: WaitQuery = None) -> JSONResponse:
        return _answer(await service.result(run_id, wait_s=wait_s or 0))

    default_wait_s = wait_s
    return routes


def _answer(outcome: KeyframesResponse | KeyframesPending | dict[str, Any]) -> JSONResponse:
    if isinstance(outcome, KeyframesPending):
        return JSONResponse(
            outcome.model_dump(mode="json"),
            status_code=202,
            headers={"Location": outcome.result_url},
        )
    if isinstance(outcome, KeyframesResponse):
        return JSONResponse(outcome.model_dump(mode="json"))
    return JSONResponse(outcome)
