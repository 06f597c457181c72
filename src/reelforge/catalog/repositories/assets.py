"""Assets: one row per stored file, found by id or by its media store key."""

from __future__ import annotations

import builtins
import re
from typing import cast

from sqlalchemy import delete, select, update

from reelforge.catalog.models import Asset, Job, new_id
from reelforge.catalog.records import (
    ASSET_KINDS,
    ASSET_SOURCES,
    AssetKind,
    AssetRecord,
    AssetSource,
)
from reelforge.catalog.repositories._base import Repository, check_choice, check_page
from reelforge.catalog.repositories.job_rows import link_assets, missing_job
from reelforge.errors import Conflict, InvalidInput, NotFound

__all__ = ["AssetRepository"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def asset_record(row: Asset) -> AssetRecord:
    return AssetRecord(
        id=row.id,
        key=row.key,
        content_type=row.content_type,
        kind=cast(AssetKind, row.kind),
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        width=row.width,
        height=row.height,
        duration_s=row.duration_s,
        codec=row.codec,
        fps=row.fps,
        frame_count=row.frame_count,
        thumbnail_key=row.thumbnail_key,
        source=cast(AssetSource, row.source),
        source_url=row.source_url,
        project_id=row.project_id,
        created_at=row.created_at,
    )


class AssetRepository(Repository):
    """The catalog of stored files. Keys are unique: adding a key twice raises Conflict."""

    async def add(
        self,
        *,
        key: str,
        id: str | None = None,
        content_type: str,
        kind: AssetKind,
        size_bytes: int,
        sha256: str,
        source: AssetSource,
        width: int | None = None,
        height: int | None = None,
        duration_s: float | None = None,
        codec: str | None = None,
        fps: float | None = None,
        frame_count: int | None = None,
        thumbnail_key: str | None = None,
        source_url: str | None = None,
        project_id: str | None = None,
        job_id: str | None = None,
    ) -> AssetRecord:
        """A new asset; with ``job_id``, appended to that job's outputs in the same
        transaction (so an engine's output is never without its job, at one write)."""
        check_choice(kind, ASSET_KINDS, "kind")
        check_choice(source, ASSET_SOURCES, "source")
        if not key:
            raise InvalidInput("An asset needs a key.", details={"field": "key"})
        if size_bytes < 0:
            raise InvalidInput("size_bytes cannot be negative.", details={"field": "size_bytes"})
        if not _SHA256.match(sha256):
            raise InvalidInput(
                "sha256 must be 64 lowercase hex digits.", details={"field": "sha256"}
            )
        row = Asset(
            id=id or new_id(),
            key=key,
            content_type=content_type,
            kind=kind,
            size_bytes=size_bytes,
            sha256=sha256,
            width=width,
            height=height,
            duration_s=duration_s,
            codec=codec,
            fps=fps,
            frame_count=frame_count,
            thumbnail_key=thumbnail_key,
            source=source,
            source_url=source_url,
            project_id=project_id,
            created_at=self._now(),
        )
        try:
            async with self._write() as session:
                job = None
                if job_id is not None:
                    job = await session.get(Job, job_id, with_for_update=True)
                    if job is None:
                        raise missing_job(job_id)
                session.add(row)
                await session.flush()
                if job is not None:
                    # The job row is locked: only the asset's own key or id can collide.
                    await link_assets(session, job, [row.id], row.created_at, added=[row.id])
                return asset_record(row)
        except Conflict:
            raise Conflict(
                f"An asset with key {key!r} or id {row.id!r} already exists.",
                details={"key": key, "id": row.id},
            ) from None

    async def get(self, asset_id: str) -> AssetRecord:
        async with self._read() as session:
            row = await session.get(Asset, asset_id)
            if row is None:
                raise NotFound(f"No asset {asset_id!r}.", details={"asset_id": asset_id})
            return asset_record(row)

    async def get_by_key(self, key: str) -> AssetRecord:
        async with self._read() as session:
            row = await session.scalar(select(Asset).where(Asset.key == key))
            if row is None:
                raise NotFound(f"No asset with key {key!r}.", details={"key": key})
            return asset_record(row)

    async def list(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        kind: AssetKind | None = None,
        project_id: str | None = None,
    ) -> builtins.list[AssetRecord]:
        """Newest first."""
        check_page(limit, offset)
        query = select(Asset).order_by(Asset.created_at.desc(), Asset.id.desc())
        if kind is not None:
            check_choice(kind, ASSET_KINDS, "kind")
            query = query.where(Asset.kind == kind)
        if project_id is not None:
            query = query.where(Asset.project_id == project_id)
        async with self._read() as session:
            rows = await session.scalars(query.limit(limit).offset(offset))
            return [asset_record(row) for row in rows]

    async def set_thumbnail(self, asset_id: str, thumbnail_key: str | None) -> AssetRecord:
        """Thumbnails and poster frames are often made after the asset is recorded."""
        async with self._write() as session:
            result = await session.execute(
                update(Asset)
                .where(Asset.id == asset_id)
                .values(thumbnail_key=thumbnail_key)
                .returning(Asset)
            )
            row = result.scalar_one_or_none()
            if row is None:
                raise NotFound(f"No asset {asset_id!r}.", details={"asset_id": asset_id})
            return asset_record(row)

    async def delete(self, asset_id: str) -> None:
        """Forget an asset; links to the jobs that produced it go with it, the jobs stay."""
        async with self._write() as session:
            result = await session.execute(
                delete(Asset).where(Asset.id == asset_id).returning(Asset.id)
            )
            if result.scalar_one_or_none() is None:
                raise NotFound(f"No asset {asset_id!r}.", details={"asset_id": asset_id})
