"""From finished engine jobs to delivered segments, and from segments to the spec's response.

The engine ingests each provider output under its own asset key (``assets/<id>.mp4``). A
segment's file carries the spec's name in its project/episode directory, in a folder of its
run: ``projects/{project}/{episode}/segments/{run_id}/segment_{scene}_{shot}.mp4``.
:meth:`SegmentDelivery.settle` copies the engine's output there as a second asset (ingested
again, so its duration is *measured* from the file it serves), and records both in
``video_segments`` (``asset_id``: the copy, ``source_asset_id``: the job's output, which stays
attached to its job). A later run of the same shot writes its own folder: a URL once handed
out always serves the same bytes. The copy's asset id is derived from (run, segment), so
settling twice, or in two processes, makes one copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from reelforge.assets import AssetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord, JobRecord
from reelforge.errors import Conflict, NotFound
from reelforge.features.segments.repository import SegmentRecord, SegmentRepository
from reelforge.features.segments.schemas import FailedSegment, SegmentResponse, VideoSegment
from reelforge.log import get_logger
from reelforge.media.keys import segment_key
from reelforge.media.store import MediaStore

__all__ = ["SegmentDelivery", "spec_error_code"]

log = get_logger(__name__)

_COPY_NAMESPACE = uuid.UUID("5e6d0c1a-6b0f-4c55-9d7e-3b1f3f1f5e9a")


def spec_error_code(code: str, vendor_codes: Collection[str]) -> str:
    """A job's error code as ``failed_segments[].error`` says it: a provider's own code
    (one of ``vendor_codes``, the registry's) is the generic provider_error."""
    return "provider_error" if code in vendor_codes else code


def copy_asset_id(run_id: str, segment_id: str) -> str:
    return uuid.uuid5(_COPY_NAMESPACE, f"{run_id}/{segment_id}").hex


class SegmentDelivery:
    """Settles segments from their jobs, and builds the response from the catalog."""

    def __init__(
        self,
        catalog: Catalog,
        segments: SegmentRepository,
        store: MediaStore,
        assets: AssetService,
        *,
        max_bytes: int,
        vendor_codes: Collection[str],
    ) -> None:
        self._catalog = catalog
        self._segments = segments
        self._store = store
        self._assets = assets
        self._max_bytes = max_bytes
        self._vendor_codes = vendor_codes

    async def settle(self, segment: SegmentRecord) -> bool:
        """Record what the segment's job came to; True when the segment just settled (ready or
        failed). A job still running is marked pending once it is past its wait cap."""
        if segment.settled:
            return False
        job = await self._catalog.jobs.get(segment.job_id)
        events = await self._catalog.jobs.events(job.id)
        if not job.is_terminal:
            past_cap = any(e.kind == "note" and e.payload.get("pending") for e in events)
            if past_cap and segment.job_status == "submitted":
                await self._segments.mark_pending(segment)
            return False
        history = [
            {"at": e.at.isoformat(), "kind": e.kind, "status": e.status, "payload": e.payload}
            for e in events
        ]
        if job.status == "succeeded" and job.asset_ids:
            await self._deliver(segment, job, history)
            return True
        canceled = job.status == "canceled"
        code = (
            "canceled"
            if canceled
            else spec_error_code(job.error_code or "provider_error", self._vendor_codes)
        )
        await self._segments.mark_failed(
            segment,
            job_status="canceled" if canceled else "failed",
            code=code,
            message=job.error_message or ("The job was canceled." if canceled else "Failed."),
            provider_request_id=job.provider_request_id,
            history=history,
        )
        log.info(
            "segments.segment_failed",
            run_id=segment.run_id,
            segment_id=segment.segment_id,
            code=job.error_code,
        )
        return True

    async def response(self, run_id: str, segments: Sequence[SegmentRecord]) -> SegmentResponse:
        """The spec's response for ``segments`` (in order), as they stand now."""
        videos: list[VideoSegment] = []
        failed: list[FailedSegment] = []
        for segment in segments:
            if segment.status == "ready":
                url = await self._current_url(segment)
                videos.append(
                    VideoSegment(
                        segment_id=segment.segment_id,
                        associated_frames=list(segment.associated_frames),
                        video_url=url,
                        duration_seconds=segment.duration_seconds or 0.0,
                        provider_metadata=segment.provider_metadata,
                    )
                )
            elif segment.status == "failed":
                failed.append(
                    FailedSegment(
                        segment_id=segment.segment_id,
                        error=segment.error_code or "provider_error",
                        message=segment.error_message or "",
                    )
                )
            else:
                failed.append(await self._unsettled(run_id, segment))
        return SegmentResponse(video_segments=videos, failed_segments=failed, run_id=run_id)

    async def _unsettled(self, run_id: str, segment: SegmentRecord) -> FailedSegment:
        """A segment whose job goes on: still generating at its provider (the spec's
        ``provider_pending``), or generated and billed, its result's download failing and
        being tried again (``output_retrying``: not the provider's doing)."""
        retrying = None
        for event in await self._catalog.jobs.events(segment.job_id):
            if event.kind == "note" and "output_retry" in event.payload:
                retrying = event.payload
        if retrying is None:
            return FailedSegment(
                segment_id=segment.segment_id,
                error="provider_pending",
                message=(
                    f"{segment.provider} is still generating this segment; its job "
                    f"{segment.job_id} goes on and the segment completes later "
                    f"(GET /v1/segments/{run_id})."
                ),
            )
        cause = (retrying.get("error") or {}).get("code", "unknown")
        return FailedSegment(
            segment_id=segment.segment_id,
            error="output_retrying",
            message=(
                f"{segment.provider} finished this segment and billed it, but fetching its "
                f"result failed ({cause}, {retrying['output_retry']} tries so far); job "
                f"{segment.job_id} tries again for engine.paid_output_retry_s. See "
                f"GET /v1/segments/{run_id}; POST /v1/jobs/{segment.job_id}/cancel stops it."
            ),
        )

    async def _deliver(
        self, segment: SegmentRecord, job: JobRecord, history: list[dict[str, Any]]
    ) -> None:
        source = await self._assets.get(job.asset_ids[0])
        copy = await self._copy(segment, source)
        metadata = _provider_metadata(job, history)
        await self._segments.mark_ready(
            segment,
            asset_id=copy.id,
            source_asset_id=source.id,
            video_url=self._store.public_url(copy.key),
            duration_seconds=round(copy.duration_s or 0.0, 3),
            provider_metadata=metadata,
            provider_request_id=job.provider_request_id,
            history=history,
        )
        log.info(
            "segments.segment_ready",
            run_id=segment.run_id,
            segment_id=segment.segment_id,
            asset_id=copy.id,
            duration_s=copy.duration_s,
            completed_by=metadata["completed_by"],
        )

    async def _copy(self, segment: SegmentRecord, source: AssetRecord) -> AssetRecord:
        asset_id = copy_asset_id(segment.run_id, segment.segment_id)
        try:
            return await self._assets.get(asset_id)
        except NotFound:
            pass
        key = segment_key(
            segment.project_id,
            segment.episode_id,
            segment.run_id,
            segment.scene_number,
            segment.shot_order,
        )
        data = await self._store.get_bytes(source.key, max_bytes=self._max_bytes)
        try:
            return await self._assets.ingest_bytes(
                data, key=key, source="provider", project_id=segment.project_id, asset_id=asset_id
            )
        except Conflict:
            # Another process settled it first; our failed ingest removed the object it had
            # written at the same key, so put the (identical) bytes back.
            record = await self._assets.get(asset_id)
            if not await self._store.exists(record.key):
                await self._store.put_bytes(record.key, data, content_type=record.content_type)
            return record

    async def _current_url(self, segment: SegmentRecord) -> str:
        for asset_id in (segment.asset_id, segment.source_asset_id):
            if asset_id is None:
                continue
            try:
                return self._store.public_url((await self._assets.get(asset_id)).key)
            except NotFound:
                continue
        return segment.video_url or ""


def _provider_metadata(job: JobRecord, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The spec's ``provider_metadata`` (provider, model, job_id, webhook_id), and how the
    segment was made and learned of."""
    delivered = [
        entry["payload"]
        for entry in history
        if entry["kind"] == "webhook" and entry["payload"].get("outcome") == "delivered"
    ]
    completed_by = "webhook" if delivered else "poll"
    return {
        "provider": job.provider,
        "model": job.model,
        "job_id": job.id,
        "webhook_id": delivered[0].get("event_id") if delivered else None,
        "provider_request_id": job.provider_request_id,
        "completed_by": completed_by,
        "key_frames": len(job.request.get("input_asset_ids") or ()),
        "prompt_template": {"name": job.template_name, "version": job.template_version},
        "cost_usd": None if job.cost_usd is None else str(job.cost_usd),
    }
