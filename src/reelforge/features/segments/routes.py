"""The segments routes (under ``/v1``, bearer auth):

- ``POST /v1/segments``: the spec's request; answers the spec's response (plus ``run_id``)
  once the run is done or every unfinished segment is past the wait cap
  (``provider_pending``), with a ``Location`` of the run's segments. ``"dry_run": true``: the
  cost estimate and the plan, nothing sent.
- ``GET /v1/segments/{run_id}``: the response the run's finish stored, or, while its jobs go
  on, the response as it stands (segments that finished meanwhile delivered).
- ``POST /v1/runs/{run_id}/assemble``: the run's ready segments joined into one preview MP4.

The run itself, its jobs and its live events are the engine's routes (``/v1/runs/{id}``...);
``POST /v1/runs`` with ``"feature": "segments"`` starts a run without waiting.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from reelforge.features.segments.schemas import SegmentRequest
from reelforge.features.segments.service import SegmentService

__all__ = ["router"]


def router(service: SegmentService, *, service_url: str) -> APIRouter:
    """The segments routes over ``service``; ``service_url``: the public URL that
    ``Location`` starts with."""
    routes = APIRouter(tags=["segments"])

    @routes.post("/segments", response_model=None)
    async def create_segments(request: SegmentRequest, response: Response) -> dict[str, Any]:
        """Key frames into 1-3 video segments (the spec's ``video_segments`` and
        ``failed_segments``)."""
        body = await service.generate(request)
        if not request.dry_run:
            response.headers["Location"] = f"{service_url}/v1/segments/{body['run_id']}"
        return body

    @routes.get("/segments/{run_id}")
    async def get_segments(run_id: str) -> dict[str, Any]:
        """A segments run's response; late segments appear as they finish."""
        return (await service.segments(run_id)).model_dump(mode="json")

    @routes.post("/runs/{run_id}/assemble")
    async def assemble_run(run_id: str) -> dict[str, Any]:
        """The run's ready segments as one preview MP4 (stream copy when the codecs match)."""
        return await service.assemble(run_id)

    return routes
