"""The run pages: ``/runs`` (recent runs) and ``/runs/{id}``, a live grid of a run's jobs.

The grid is generic over features and outputs: each job is a card with its label (a frame or
segment id), status, error, the storyboard frame's words (its caption: beside the picture, as
the local studio draws none into it), the exact prompt it was sent, and its outputs, an image as
``<img>`` and a video as ``<video controls muted playsinline>``. The page follows the run's
event stream (``GET /v1/runs/{id}/stream``, server-sent events) and on each event fetches
``/runs/{id}/cards`` (the same cards as an HTML fragment, with the run's status in the
``X-Run-Status`` and ``X-Run-Done`` headers), replacing only the cards that changed; where the
stream is unavailable it polls that fragment instead. So frames appear as they finish, without
a reload. A finished run whose response has a consistency report (key frames of characters with
reference photos) shows it under the status, with the response's warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from reelforge.catalog import Catalog
from reelforge.catalog.records import TERMINAL_RUN_STATUSES, AssetRecord, JobRecord, RunRecord
from reelforge.engine.queue_repository import QueueRepository
from reelforge.facekit.pages import render
from reelforge.media.store import MediaStore

__all__ = ["JobCard", "OutputView", "page_router"]


@dataclass(frozen=True, slots=True)
class OutputView:
    """One output of a job, as the page shows it."""

    url: str
    kind: str
    content_type: str
    width: int | None
    height: int | None
    poster: str | None


@dataclass(frozen=True, slots=True)
class JobCard:
    """One job of a run, as a card."""

    job_id: str
    label: str
    status: str
    prompt: str
    error: dict[str, str] | None
    outputs: tuple[OutputView, ...]
    caption: str = ""
    quality_score: float | None = None

    @property
    def version(self) -> str:
        """Changes whenever the card would look different."""
        return f"{self.status}:{','.join(o.url for o in self.outputs)}:{self.quality_score}"


def page_router(catalog: Catalog, store: MediaStore) -> APIRouter:
    """The run pages over the catalog and the media store."""
    pages = APIRouter(include_in_schema=False)

    @pages.get("/runs")
    async def runs_page() -> HTMLResponse:
        runs = await catalog.runs.list(limit=100)
        return render("runs/index.html", runs=runs)

    queues = QueueRepository.on(catalog)

    @pages.get("/runs/{run_id}")
    async def run_page(run_id: str) -> HTMLResponse:
        run, cards = await _cards(catalog, store, run_id)
        return render(
            "runs/run.html", **_context(run, cards), **await _controls(queues, run, cards)
        )

    @pages.get("/runs/{run_id}/cards")
    async def run_cards(run_id: str) -> HTMLResponse:
        run, cards = await _cards(catalog, store, run_id)
        response = render("runs/cards.html", cards=cards)
        response.headers["X-Run-Status"] = run.status
        response.headers["X-Run-Done"] = "true" if run.status in TERMINAL_RUN_STATUSES else "false"
        response.headers["Cache-Control"] = "no-store"
        return response

    return pages


def _context(run: RunRecord, cards: list[JobCard]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for card in cards:
        counts[card.status] = counts.get(card.status, 0) + 1
    response = run.response or {}
    consistency = response.get("consistency")
    warnings = response.get("warnings")
    return {
        "run": run,
        "cards": cards,
        "counts": counts,
        "done": run.status in TERMINAL_RUN_STATUSES,
        "consistency": consistency if isinstance(consistency, list) else [],
        "warnings": warnings if isinstance(warnings, list) else [],
    }


async def _controls(
    queues: QueueRepository, run: RunRecord, cards: list[JobCard]
) -> dict[str, Any]:
    """What the run's queue controls offer: pause or resume while it runs, retry once it has
    ended with failed jobs no retry replaced yet."""
    paused = any(p.scope == "run" and p.target == run.id for p in await queues.pauses())
    retryable = False
    if run.status in ("failed", "partial"):
        retried = await queues.retried_job_ids(run.id)
        retryable = any(c.status == "failed" and c.job_id not in retried for c in cards)
    return {"paused": paused, "retryable": retryable}


async def _cards(
    catalog: Catalog, store: MediaStore, run_id: str
) -> tuple[RunRecord, list[JobCard]]:
    run = await catalog.runs.get(run_id)
    jobs = await catalog.jobs.list_for_run(run_id)
    scores = _quality_scores(run.response or {})
    return run, [await _card(catalog, store, job, scores) for job in jobs]


def _quality_scores(response: dict[str, Any]) -> dict[str, float]:
    """The response's ``quality_score`` of each generated frame, by frame id."""
    frames = response.get("generated_frames")
    if not isinstance(frames, list):
        return {}
    return {
        str(frame["frame_id"]): float(frame["quality_score"])
        for frame in frames
        if isinstance(frame, dict) and frame.get("quality_score") is not None
    }


async def _card(
    catalog: Catalog, store: MediaStore, job: JobRecord, scores: dict[str, float]
) -> JobCard:
    outputs = []
    for asset_id in job.asset_ids:
        outputs.append(_output(store, await catalog.assets.get(asset_id)))
    error = (
        {"code": job.error_code, "message": job.error_message or ""}
        if job.error_code is not None
        else None
    )
    label = str(job.request.get("label") or job.id)
    return JobCard(
        job_id=job.id,
        label=label,
        status=job.status,
        prompt=job.prompt or "",
        error=error,
        outputs=tuple(outputs),
        caption=_caption(job.request.get("scene")),
        quality_score=scores.get(label),
    )


def _caption(scene: object) -> str:
    """A storyboard frame's words, shown beside its picture (never drawn into it)."""
    if not isinstance(scene, dict):
        return ""
    words = [str(scene.get(key) or "").strip() for key in ("description", "camera_notes")]
    return " · ".join(word for word in words if word)


def _output(store: MediaStore, asset: AssetRecord) -> OutputView:
    return OutputView(
        url=store.public_url(asset.key),
        kind=asset.kind,
        content_type=asset.content_type,
        width=asset.width,
        height=asset.height,
        poster=store.public_url(asset.thumbnail_key) if asset.thumbnail_key else None,
    )
