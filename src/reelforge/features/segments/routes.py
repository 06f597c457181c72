"""The segments routes (under ``/v1``, bearer auth):

- ``POST /v1/segments``: the spec's request; answers the spec's response (plus ``run_id``)
  once every segment is done or past the wait cap (``provider_pending``), with a ``Location``
  of the run's segments. ``"dry_run": true``: the cost estimate and the plan, nothing sent.
- ``GET /v1/segments/{run_id}``: the response as it stands now; pending segments that have
  finished since are settled first.
- ``POST /v1/runs/{run_id}/assemble``: the run's ready segments joined into one preview MP4.

The run itself, its jobs and its live events are the engine's routes (``/v1/runs/{id}``...).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from reelforge.api.deps import ServicesDep
from reelforge.features.segments.schemas import SegmentRequest

__all__ = ["router"]

router = APIRouter(tags=["segments"])


@router.post("/segments", response_model=None)
async def create_segments(
    request: SegmentRequest, services: ServicesDep, response: Response
) -> dict[str, Any]:
    """Key frames into 1-3 video segments (the spec's ``video_segments`` and
    ``failed_segments``)."""
    body = await services.segments.generate(request)
    if not request.dry_run:
        response.headers["Location"] = f"/v1/segments/{body['run_id']}"
    return body


@router.get("/segments/{run_id}")
async def get_segments(run_id: str, services: ServicesDep) -> dict[str, Any]:
    """A segments run's response now; late segments appear as they finish."""
    return (await services.segments.segments(run_id)).model_dump(mode="json")


@router.post("/runs/{run_id}/assemble")
async def assemble_run(run_id: str, services: ServicesDep) -> dict[str, Any]:
    """The run's ready segments as one preview MP4 (stream copy when the codecs match)."""
    return await services.segments.assemble(run_id)
