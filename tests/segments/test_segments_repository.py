"""The segments tables on SQLite and PostgreSQL: a run's rows in one go, settling, lineage."""

from __future__ import annotations

import pytest

from fixtures.catalog_data import add_asset, add_job
from fixtures.database import blank_database_url, catalog, database_backend, database_url
from reelforge.catalog import Catalog
from reelforge.errors import NotFound
from reelforge.features.segments.repository import NewSegment, SegmentFrame, SegmentRepository

__all__ = ["blank_database_url", "catalog", "database_backend", "database_url"]


async def test_a_run_is_recorded_settled_and_keeps_its_lineage(catalog: Catalog) -> None:
    run = await catalog.runs.create(feature="segments", input={}, project_id="p1")
    jobs = [await add_job(catalog, run_id=run.id) for _ in range(2)]
    frames = [await add_asset(catalog) for _ in range(3)]
    segments = [
        NewSegment(
            segment_id=f"SEGMENT_{i + 1}",
            job_id=job.id,
            provider="fal",
            model="fal-ai/veo3.1/image-to-video",
            scene_number=1 + i,
            shot_order=1,
            planned_duration_s=3.5,
            grouping={"reason": "two shots", "associated_frames": ["A", "B"][: 2 - i]},
            frames=[SegmentFrame(f"F{j}", frames[j].id, f"https://x/{j}.png") for j in members],
        )
        for i, (job, members) in enumerate(zip(jobs, ([0, 1], [2]), strict=True))
    ]
    added = await SegmentRepository.on(catalog).add_run(run.id, "p1", "e1", segments)
    assert [r.segment_id for r in added] == ["SEGMENT_1", "SEGMENT_2"]
    assert added[0].associated_frames == ("F0", "F1")
    assert [f.asset_id for f in added[0].frames] == [frames[0].id, frames[1].id]
    assert all(r.status == "pending" and r.job_status == "submitted" for r in added)

    await SegmentRepository.on(catalog).mark_pending(added[0])
    video = await add_asset(catalog, kind="video", content_type="video/mp4", key="v/1.mp4")
    history = [{"kind": "webhook", "payload": {"outcome": "delivered", "event_id": "e-1"}}]
    await SegmentRepository.on(catalog).mark_ready(
        added[0],
        asset_id=video.id,
        source_asset_id=video.id,
        video_url="http://media/v/1.mp4",
        duration_seconds=4.0,
        provider_metadata={"provider": "fal", "webhook_id": "e-1"},
        provider_request_id="req-1",
        history=history,
    )
    await SegmentRepository.on(catalog).mark_failed(
        added[1],
        job_status="failed",
        code="provider_error",
        message="fal failed",
        provider_request_id=None,
        history=[],
    )
    ready, failed = await SegmentRepository.on(catalog).list_for_run(run.id)
    assert (ready.status, ready.job_status) == ("ready", "completed")
    assert ready.duration_seconds == 4.0
    assert ready.webhook_events == tuple(history)
    assert ready.provider_request_id == "req-1"
    assert ready.completed_at is not None
    assert (failed.status, failed.job_status, failed.error_code) == (
        "failed",
        "failed",
        "provider_error",
    )
    assert failed.grouping["reason"] == "two shots"

    # Deleting a file leaves the segment and its lineage; the link becomes empty.
    await catalog.assets.delete(video.id)
    again = await SegmentRepository.on(catalog).get(run.id, "SEGMENT_1")
    assert again.asset_id is None
    assert again.status == "ready"
    with pytest.raises(NotFound):
        await SegmentRepository.on(catalog).get(run.id, "SEGMENT_9")
    assert await SegmentRepository.on(catalog).list_for_run("no-such-run") == []
