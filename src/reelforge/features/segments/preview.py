"""``POST /v1/runs/{id}/assemble``: a run's ready segments joined into one preview MP4.

The clips are copied out of the store into a private temporary folder, joined by
:func:`reelforge.features.segments.assembly.join_clips` in a worker thread (stream copy when
they match, a re-encode otherwise), and the result is ingested like any other media (so its
duration is measured) at ``projects/{project}/{episode}/segments/preview_{run}.mp4``. Assembling
again replaces the previous preview of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

from reelforge.assets import AssetService
from reelforge.catalog import Catalog
from reelforge.errors import Conflict, NotFound
from reelforge.features.segments.assembly import join_clips
from reelforge.features.segments.repository import SegmentRepository
from reelforge.log import get_logger
from reelforge.media.keys import join_key
from reelforge.media.store import MediaStore

__all__ = ["PreviewMaker", "preview_key"]

log = get_logger(__name__)


def preview_key(project_id: str, episode_id: str, run_id: str) -> str:
    return join_key("projects", project_id, episode_id, "segments", f"preview_{run_id}.mp4")


class PreviewMaker:
    """Joins a run's ready segments and stores the preview."""

    def __init__(
        self,
        catalog: Catalog,
        segments: SegmentRepository,
        store: MediaStore,
        assets: AssetService,
        *,
        max_bytes: int,
    ) -> None:
        self._catalog = catalog
        self._segments = segments
        self._store = store
        self._assets = assets
        self._max_bytes = max_bytes

    async def assemble(self, run_id: str) -> dict[str, Any]:
        records = await self._segments.list_for_run(run_id)
        if not records:
            await self._catalog.runs.get(run_id)
            raise NotFound(f"Run {run_id} is not a segments run.", details={"run_id": run_id})
        ready = [r for r in records if r.status == "ready"]
        if not ready:
            raise Conflict(
                f"Run {run_id} has no finished segment to assemble yet.",
                details={"run_id": run_id, "segments": {r.segment_id: r.status for r in records}},
            )
        project_id, episode_id = ready[0].project_id, ready[0].episode_id
        with tempfile.TemporaryDirectory(prefix="reelforge-preview-") as folder:
            paths = []
            for index, segment in enumerate(ready):
                asset_id = segment.asset_id or segment.source_asset_id
                if asset_id is None:
                    raise NotFound(f"The file of {segment.segment_id} is gone.")
                asset = await self._assets.get(asset_id)
                path = Path(folder) / f"segment_{index}.mp4"
                data = await self._store.get_bytes(asset.key, max_bytes=self._max_bytes)
                await asyncio.to_thread(path.write_bytes, data)
                paths.append(path)
            joined = await asyncio.to_thread(join_clips, paths, Path(folder) / "preview.mp4")
            data = await asyncio.to_thread(joined.path.read_bytes)
        key = preview_key(project_id, episode_id, run_id)
        with contextlib.suppress(NotFound):
            await self._assets.delete((await self._catalog.assets.get_by_key(key)).id)
        record = await self._assets.ingest_bytes(
            data, key=key, source="upload", project_id=project_id
        )
        log.info(
            "segments.preview_assembled",
            run_id=run_id,
            asset_id=record.id,
            method=joined.method,
            segments=len(ready),
        )
        return {
            "run_id": run_id,
            "asset_id": record.id,
            "video_url": self._store.public_url(record.key),
            "duration_seconds": round(record.duration_s or 0.0, 3),
            "method": joined.method,
            "segments": [segment.segment_id for segment in ready],
            "missing_segments": [r.segment_id for r in records if r.status != "ready"],
            "width": record.width,
            "height": record.height,
        }
