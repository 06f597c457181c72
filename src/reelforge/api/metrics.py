"""``/metrics``: the process's Prometheus text (:class:`reelforge.metrics.Metrics`).

The route sits behind bearer auth like the rest of the API; give Prometheus the token
(``authorization: {credentials: ...}`` in its scrape config). The series are described in
:mod:`reelforge.metrics`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from reelforge.metrics import Metrics

__all__ = ["router"]

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    # Not ServicesDep: the composition root imports this module, so it cannot import back.
    own: Metrics = request.app.state.services.metrics
    return Response(own.exposition(), media_type=CONTENT_TYPE_LATEST)
