"""What a segments run records of its plan, and the segment records written back from it.

A run's input keeps the request as validated, the provider, every grouping decision, each
segment's job (:meth:`~reelforge.features.segments.prompting.MotionJob.to_json`) and the asset
each key frame was ingested as. That is all the feature needs to write the run's segment
records (:func:`new_segments`) in whichever process gets there first: the one that answers the
request, or the engine's finish step, which may run elsewhere and after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reelforge.catalog.records import JobRecord
from reelforge.features.segments.grouping import Grouping
from reelforge.features.segments.prompting import MotionJob
from reelforge.features.segments.repository import NewSegment, SegmentFrame
from reelforge.features.segments.schemas import KeyFrame, SegmentRequest

__all__ = ["SegmentsPlan", "new_segments", "planned", "run_input"]


@dataclass(frozen=True, slots=True)
class SegmentsPlan:
    """A request's frames, their grouping, the provider and one job per segment."""

    frames: tuple[KeyFrame, ...]
    grouping: Grouping
    provider: str
    jobs: tuple[MotionJob, ...]


def run_input(
    request: SegmentRequest, plan: SegmentsPlan, frame_assets: Mapping[str, str]
) -> dict[str, Any]:
    """What the run records: the request as validated, every grouping decision, and the asset
    of each key frame (frame id to asset id), and the characters whose faces each segment's
    poster is measured against (segment id to name to reference asset id; only if any)."""
    recorded: dict[str, Any] = {
        "request": request.model_dump(mode="json", exclude={"dry_run"}),
        "provider": plan.provider,
        "grouping": plan.grouping.to_json(),
        "segments": [job.to_json() for job in plan.jobs],
        "frame_assets": dict(frame_assets),
    }
    identity = {
        job.segment.segment_id: dict(job.cast.identity)
        for job in plan.jobs
        if job.cast is not None and job.cast.identity
    }
    if identity:
        recorded["identity_references"] = identity
    return recorded


def planned(recorded: Mapping[str, Any]) -> bool:
    """Whether a run's input is a segments plan (a bare engine run's is not)."""
    return all(key in recorded for key in ("request", "grouping", "segments"))


def new_segments(
    recorded: Mapping[str, Any], jobs: Mapping[str | None, JobRecord]
) -> tuple[str, str, list[NewSegment]]:
    """The project, the episode and the segments of a run, from its input and its jobs (by
    label: the segment id)."""
    context = recorded["request"]["project_context"]
    urls = {
        frame["frame_id"]: str(frame["image_url"]).strip()
        for frame in recorded["request"]["generated_frames"]
    }
    assets: Mapping[str, str] = recorded.get("frame_assets") or {}
    segments = []
    for grouped, planned in zip(
        recorded["grouping"]["segments"], recorded["segments"], strict=True
    ):
        job = jobs[grouped["segment_id"]]
        frame_ids = grouped["associated_frames"]
        segments.append(
            NewSegment(
                segment_id=grouped["segment_id"],
                job_id=job.id,
                provider=job.provider,
                model=job.model,
                scene_number=grouped["scene_number"],
                shot_order=grouped["shot_order"],
                planned_duration_s=grouped["duration_seconds"],
                grouping={**grouped, "key_frames": list(planned["key_frames"])},
                frames=[SegmentFrame(f, assets.get(f), urls[f]) for f in frame_ids],
            )
        )
    return context["project_id"], context["episode_id"], segments
