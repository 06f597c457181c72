"""``/metrics``: the process's Prometheus text (:class:`reelforge.metrics.Metrics`).

The route sits behind bearer auth like the rest of the API; give Prometheus the token
(``authorization: {credentials: ...}`` in its scrape config). The series are described in
:mod:`reelforge.metrics` and ``docs/metrics.md``. The queue's gauges are read from the
catalog at each scrape, so they count every worker's jobs.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from reelforge.services import Services

__all__ = ["router"]

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    services: Services = request.app.state.services
    own = services.metrics
    own.queue.set_open_jobs(await services.catalog.jobs.open_counts(), services.providers.ids)
    return Response(own.exposition(), media_type=CONTENT_TYPE_LATEST)
