"""Measured continuity of segments: each clip's poster frame against its characters' faces.

The finish step measures, once every segment is settled: a ready segment whose characters (the
profiles its key frames name) have a reference image is measured on its poster frame (the JPEG
of the clip's first frame that ingest makes, ``thumbnail_key`` of the segment's asset) against
those references (:mod:`reelforge.continuity`). The checks go into the segment's
``provider_metadata.identity`` with its ``quality_score``; posters whose face is missing or too
far are listed in the response's ``warnings``. A reference without a face is not measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reelforge.catalog import Catalog
from reelforge.continuity import IdentityMeter, MeasuredImage
from reelforge.features.segments.repository import SegmentRepository
from reelforge.features.segments.schemas import SegmentResponse, VideoSegment

__all__ = ["PosterIdentity"]


class PosterIdentity:
    """Scores a run's response from its segments' posters (see the module)."""

    def __init__(self, catalog: Catalog, segments: SegmentRepository, meter: IdentityMeter) -> None:
        self._catalog = catalog
        self._segments = segments
        self._meter = meter

    async def scored(
        self, recorded: Mapping[str, Any], response: SegmentResponse
    ) -> SegmentResponse:
        """``response`` with its measured segments scored and the warnings (the run's
        ``recorded`` input says whose faces each segment shows)."""
        wanted: Mapping[str, Mapping[str, str]] = recorded.get("identity_references") or {}
        if not wanted or not response.video_segments:
            return response
        records = {r.segment_id: r for r in await self._segments.list_for_run(response.run_id)}
        posters = []
        for video in response.video_segments:
            record = records.get(video.segment_id)
            references = wanted.get(video.segment_id)
            if record is None or record.asset_id is None or not references:
                continue
            asset = await self._catalog.assets.get(record.asset_id)
            posters.append(MeasuredImage.of_poster(video.segment_id, asset, references))
        measured = await self._meter.measure(posters)
        videos: list[VideoSegment] = []
        for video in response.video_segments:
            checks = measured.checks.get(video.segment_id)
            if checks:
                identity = [check.model_dump(mode="json") for check in checks]
                video = video.model_copy(
                    update={
                        "provider_metadata": {**video.provider_metadata, "identity": identity},
                        "quality_score": measured.quality_score(video.segment_id),
                    }
                )
            videos.append(video)
        return response.model_copy(
            update={"video_segments": videos, "warnings": [*response.warnings, *measured.warnings]}
        )
