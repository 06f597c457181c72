"""Assets: bytes in the media store plus their row in the catalog, always together.

Every way media enters Reelforge ends here: safe ingest puts the bytes (and the thumbnail or
poster) into the store, then the row is written. If the row cannot be written the stored objects
are removed again, so a refusal or a failure never leaves an object without a row, or the reverse;
except when the row that refused it is the same asset (same id, same objects), stored by another
run of the same step: then that row is the answer and its objects stay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord
from reelforge.errors import Conflict, NotFound
from reelforge.log import get_logger
from reelforge.media.ingest import IngestedMedia, Ingestor, IngestSource
from reelforge.media.store import MediaStore

__all__ = ["AssetService", "asset_view"]

log = get_logger(__name__)


class AssetService:
    """Ingest, look up and delete assets."""

    def __init__(self, catalog: Catalog, store: MediaStore, ingestor: Ingestor) -> None:
        self._catalog = catalog
        self._store = store
        self._ingestor = ingestor

    async def ingest_url(
        self,
        url: str,
        *,
        key: str | None = None,
        from_provider: bool = False,
        project_id: str | None = None,
        asset_id: str | None = None,
        job_id: str | None = None,
    ) -> AssetRecord:
        """``asset_id`` lets a caller that may run twice (an engine step) pick the id up front,
        so a second run finds the first one's asset instead of making another. ``job_id``:
        the job whose output this is, linked in the asset's own transaction."""
        source: Literal["url", "provider"] = "provider" if from_provider else "url"
        return await self._record(
            lambda: self._ingestor.ingest_url(url, key=key, asset_id=asset_id, source=source),
            project_id,
            job_id,
        )

    async def ingest_stream(
        self,
        chunks: AsyncIterator[bytes],
        *,
        key: str | None = None,
        project_id: str | None = None,
    ) -> AssetRecord:
        return await self._record(lambda: self._ingestor.ingest_stream(chunks, key=key), project_id)

    async def ingest_bytes(
        self,
        data: bytes,
        *,
        key: str | None = None,
        source: IngestSource = "provider",
        project_id: str | None = None,
        asset_id: str | None = None,
        job_id: str | None = None,
    ) -> AssetRecord:
        return await self._record(
            lambda: self._ingestor.ingest_bytes(data, key=key, asset_id=asset_id, source=source),
            project_id,
            job_id,
        )

    async def ingest_base64(
        self, data: str, *, key: str | None = None, project_id: str | None = None
    ) -> AssetRecord:
        return await self._record(lambda: self._ingestor.ingest_base64(data, key=key), project_id)

    async def get(self, asset_id: str) -> AssetRecord:
        return await self._catalog.assets.get(asset_id)

    async def delete(self, asset_id: str) -> None:
        """Remove the row first, then the objects: a row never points at missing bytes."""
        record = await self._catalog.assets.get(asset_id)
        await self._catalog.assets.delete(asset_id)
        await self._store.delete(record.key)
        if record.thumbnail_key:
            await self._store.delete(record.thumbnail_key)
        log.info("asset.deleted", asset_id=asset_id, key=record.key)

    def public_url(self, key: str) -> str:
        return self._store.public_url(key)

    def view(self, record: AssetRecord) -> dict[str, Any]:
        return asset_view(record, self._store)

    async def _record(
        self,
        ingest: Callable[[], Awaitable[IngestedMedia]],
        project_id: str | None,
        job_id: str | None = None,
    ) -> AssetRecord:
        media = await ingest()
        try:
            record = await self._catalog.assets.add(
                id=media.asset_id,
                key=media.key,
                content_type=media.content_type,
                kind=media.kind,
                size_bytes=media.size_bytes,
                sha256=media.sha256,
                source=media.source,
                width=media.width,
                height=media.height,
                duration_s=media.duration_s,
                codec=media.codec,
                fps=media.fps,
                frame_count=media.frame_count,
                thumbnail_key=media.thumbnail_key,
                source_url=media.source_url,
                project_id=project_id,
                job_id=job_id,
            )
        except Conflict:
            same = await self._same_asset(media)
            if same is None:
                await self._ingestor.discard(media)
                raise
            # Another run of the same step (a worker taken for dead that was only slow) stored
            # this very asset first: its objects are the ones the row points at, so keep them.
            return same
        except BaseException:
            await self._ingestor.discard(media)
            raise
        log.info(
            "asset.ingested",
            asset_id=record.id,
            kind=record.kind,
            content_type=record.content_type,
            size_bytes=record.size_bytes,
            source=record.source,
        )
        return record

    async def _same_asset(self, media: IngestedMedia) -> AssetRecord | None:
        """The row already recorded under ``media``'s id and objects, if there is one."""
        try:
            found = await self._catalog.assets.get(media.asset_id)
        except NotFound:
            return None
        same = (found.key, found.thumbnail_key) == (media.key, media.thumbnail_key)
        return found if same else None


def asset_view(record: AssetRecord, store: MediaStore) -> dict[str, Any]:
    """The public JSON view of an asset, with its URLs."""
    return {
        "id": record.id,
        "key": record.key,
        "url": store.public_url(record.key),
        "thumbnail_url": store.public_url(record.thumbnail_key) if record.thumbnail_key else None,
        "content_type": record.content_type,
        "kind": record.kind,
        "size_bytes": record.size_bytes,
        "sha256": record.sha256,
        "width": record.width,
        "height": record.height,
        "duration_s": record.duration_s,
        "codec": record.codec,
        "fps": record.fps,
        "frame_count": record.frame_count,
        "source": record.source,
        "source_url": record.source_url,
        "project_id": record.project_id,
        "created_at": record.created_at.isoformat(),
    }
