"""The segments feature's SQL: its generation jobs, segments and their key frames.

The only module of the feature that touches :mod:`.tables`; it returns frozen records. A run's
rows are written in one transaction (by the request that started it, else by the run's finish
step), then each segment is settled once (ready, failed or pending); settling again with the
same outcome changes nothing, so the request, a reader and the finish step may all settle it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reelforge.catalog.repositories._base import Repository, json_document
from reelforge.errors import NotFound
from reelforge.features.segments.tables import GenJobRow, SegmentFrameRow, SegmentRow

__all__ = [
    "NewSegment",
    "SegmentFrame",
    "SegmentRecord",
    "SegmentRepository",
]

SegmentStatus = Literal["pending", "ready", "failed"]
GenJobStatus = Literal["submitted", "pending", "completed", "failed", "canceled"]


@dataclass(frozen=True, slots=True)
class SegmentFrame:
    frame_id: str
    asset_id: str | None
    image_url: str


@dataclass(frozen=True, slots=True)
class NewSegment:
    """What is known of a segment when its job is handed to the engine."""

    segment_id: str
    job_id: str
    provider: str
    model: str
    scene_number: int
    shot_order: int
    planned_duration_s: float
    grouping: Mapping[str, Any]
    frames: Sequence[SegmentFrame]


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A segment with its generation job (``videoSegments`` joined with ``videoGenJobs``)."""

    id: str
    gen_job_id: str
    run_id: str
    job_id: str
    project_id: str
    episode_id: str
    segment_id: str
    position: int
    scene_number: int
    shot_order: int
    associated_frames: tuple[str, ...]
    frames: tuple[SegmentFrame, ...]
    status: SegmentStatus
    job_status: GenJobStatus
    provider: str
    model: str
    provider_request_id: str | None
    planned_duration_s: float
    asset_id: str | None
    source_asset_id: str | None
    video_url: str | None
    duration_seconds: float | None
    provider_metadata: dict[str, Any]
    error_code: str | None
    error_message: str | None
    grouping: dict[str, Any]
    webhook_events: tuple[dict[str, Any], ...]
    created_at: datetime
    completed_at: datetime | None

    @property
    def settled(self) -> bool:
        """Ready or failed: nothing about it changes any more."""
        return self.status != "pending"


def _record(row: SegmentRow, job: GenJobRow, frames: Sequence[SegmentFrameRow]) -> SegmentRecord:
    return SegmentRecord(
        id=row.id,
        gen_job_id=job.id,
        run_id=row.run_id,
        job_id=job.job_id,
        project_id=row.project_id,
        episode_id=row.episode_id,
        segment_id=row.segment_id,
        position=row.position,
        scene_number=row.scene_number,
        shot_order=row.shot_order,
        associated_frames=tuple(row.associated_frames),
        frames=tuple(
            SegmentFrame(frame.frame_id, frame.asset_id, frame.image_url)
            for frame in sorted(frames, key=lambda f: f.position)
        ),
        status=row.status,  # type: ignore[arg-type]  # checked by the database
        job_status=job.status,  # type: ignore[arg-type]
        provider=job.provider,
        model=job.model,
        provider_request_id=job.provider_request_id,
        planned_duration_s=row.planned_duration_s,
        asset_id=row.asset_id,
        source_asset_id=row.source_asset_id,
        video_url=row.video_url,
        duration_seconds=row.duration_seconds,
        provider_metadata=dict(row.provider_metadata),
        error_code=row.error_code,
        error_message=row.error_message,
        grouping=dict(job.grouping),
        webhook_events=tuple(job.webhook_events),
        created_at=row.created_at,
        completed_at=job.completed_at,
    )


class SegmentRepository(Repository):
    """``video_gen_jobs``, ``video_segments`` and ``video_segment_frames``."""

    async def add_run(
        self, run_id: str, project_id: str, episode_id: str, segments: Sequence[NewSegment]
    ) -> list[SegmentRecord]:
        """Every segment of a run and its generation job, in one transaction."""
        now = self._now()
        async with self._write() as session:
            for position, new in enumerate(segments):
                job = GenJobRow(
                    run_id=run_id,
                    job_id=new.job_id,
                    project_id=project_id,
                    episode_id=episode_id,
                    segment_id=new.segment_id,
                    provider=new.provider,
                    model=new.model,
                    status="submitted",
                    grouping=json_document(new.grouping, "grouping"),
                    webhook_events=[],
                    created_at=now,
                )
                session.add(job)
                await session.flush()
                row = SegmentRow(
                    run_id=run_id,
                    gen_job_id=job.id,
                    project_id=project_id,
                    episode_id=episode_id,
                    segment_id=new.segment_id,
                    position=position,
                    scene_number=new.scene_number,
                    shot_order=new.shot_order,
                    associated_frames=[frame.frame_id for frame in new.frames],
                    status="pending",
                    planned_duration_s=new.planned_duration_s,
                    provider_metadata={},
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
                for index, frame in enumerate(new.frames):
                    session.add(
                        SegmentFrameRow(
                            segment_row_id=row.id,
                            position=index,
                            frame_id=frame.frame_id,
                            asset_id=frame.asset_id,
                            image_url=frame.image_url,
                        )
                    )
        return await self.list_for_run(run_id)

    async def list_for_run(self, run_id: str) -> list[SegmentRecord]:
        """The run's segments in order (none: not a segments run)."""
        async with self._read() as session:
            pairs = (
                await session.execute(
                    select(SegmentRow, GenJobRow)
                    .join(GenJobRow, GenJobRow.id == SegmentRow.gen_job_id)
                    .where(SegmentRow.run_id == run_id)
                    .order_by(SegmentRow.position)
                )
            ).all()
            ids = [row.id for row, _ in pairs]
            frames = (
                await session.scalars(
                    select(SegmentFrameRow).where(SegmentFrameRow.segment_row_id.in_(ids))
                )
            ).all()
        by_segment: dict[str, list[SegmentFrameRow]] = {}
        for frame in frames:
            by_segment.setdefault(frame.segment_row_id, []).append(frame)
        return [_record(row, job, by_segment.get(row.id, [])) for row, job in pairs]

    async def get(self, run_id: str, segment_id: str) -> SegmentRecord:
        for record in await self.list_for_run(run_id):
            if record.segment_id == segment_id:
                return record
        raise NotFound(
            f"No segment {segment_id!r} in run {run_id!r}.",
            details={"run_id": run_id, "segment_id": segment_id},
        )

    async def mark_pending(self, segment: SegmentRecord) -> None:
        """Past the wait cap: the job goes on at its provider."""
        async with self._write() as session:
            await session.execute(
                update(GenJobRow)
                .where(GenJobRow.id == segment.gen_job_id, GenJobRow.status == "submitted")
                .values(status="pending")
            )

    async def mark_ready(
        self,
        segment: SegmentRecord,
        *,
        asset_id: str,
        source_asset_id: str,
        video_url: str,
        duration_seconds: float,
        provider_metadata: Mapping[str, Any],
        provider_request_id: str | None,
        history: Sequence[Mapping[str, Any]],
    ) -> None:
        now = self._now()
        async with self._write() as session:
            await session.execute(
                update(SegmentRow)
                .where(SegmentRow.id == segment.id)
                .values(
                    status="ready",
                    asset_id=asset_id,
                    source_asset_id=source_asset_id,
                    video_url=video_url,
                    duration_seconds=duration_seconds,
                    provider_metadata=json_document(provider_metadata, "provider_metadata"),
                    error_code=None,
                    error_message=None,
                    updated_at=now,
                )
            )
            await self._close_job(
                session, segment, "completed", provider_request_id, history, now, None
            )

    async def mark_failed(
        self,
        segment: SegmentRecord,
        *,
        job_status: Literal["failed", "canceled"],
        code: str,
        message: str,
        provider_request_id: str | None,
        history: Sequence[Mapping[str, Any]],
    ) -> None:
        now = self._now()
        async with self._write() as session:
            await session.execute(
                update(SegmentRow)
                .where(SegmentRow.id == segment.id)
                .values(status="failed", error_code=code, error_message=message, updated_at=now)
            )
            await self._close_job(
                session, segment, job_status, provider_request_id, history, now, (code, message)
            )

    async def _close_job(
        self,
        session: AsyncSession,
        segment: SegmentRecord,
        status: GenJobStatus,
        provider_request_id: str | None,
        history: Sequence[Mapping[str, Any]],
        now: datetime,
        error: tuple[str, str] | None,
    ) -> None:
        await session.execute(
            update(GenJobRow)
            .where(GenJobRow.id == segment.gen_job_id)
            .values(
                status=status,
                provider_request_id=provider_request_id,
                webhook_events=json_document({"events": list(history)}, "webhook_events")["events"],
                error_code=None if error is None else error[0],
                error_message=None if error is None else error[1],
                completed_at=now,
            )
        )
