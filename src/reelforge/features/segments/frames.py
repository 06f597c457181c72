"""The generated frames' images as assets, before any job uses them.

Three kinds of ``image_url``: an address of our own media store (the keyframes feature's
output, say) is looked up in the catalog by its key and used as it is, never fetched again; a
``data:`` URI is decoded; anything else goes through safe ingest (size cap, sniffing, no
private addresses unless allowed). Every image is probed, so a broken or non-image file is
refused before a provider is paid. A refusal names the frame, and leaves nothing: the assets
this request ingested, the refused one included, are deleted again (never one it only looked
up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from reelforge.assets import AssetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord
from reelforge.errors import InvalidInput, NotFound, ReelforgeError, UnsupportedMediaType
from reelforge.features.segments.schemas import KeyFrame
from reelforge.log import get_logger

__all__ = ["FrameImages"]

log = get_logger(__name__)

_CONCURRENCY = 4


class FrameImages:
    """Turns frames' image URLs into assets."""

    def __init__(self, catalog: Catalog, assets: AssetService, *, public_base_url: str) -> None:
        self._catalog = catalog
        self._assets = assets
        self._own_prefix = public_base_url.rstrip("/") + "/"

    async def ingest(self, frames: Sequence[KeyFrame], project_id: str) -> dict[str, AssetRecord]:
        """Each frame's image as an asset, by frame id; a URL used twice is ingested once."""
        limit = asyncio.Semaphore(_CONCURRENCY)
        ingested: list[AssetRecord] = []

        async def one(frame: KeyFrame) -> AssetRecord:
            async with limit:
                try:
                    return await self._asset(frame.image_url, project_id, ingested)
                except ReelforgeError as exc:
                    exc.details.setdefault("frame_id", frame.frame_id)
                    raise

        first_of: dict[str, KeyFrame] = {}
        for frame in frames:
            first_of.setdefault(frame.image_url, frame)
        tasks = {url: asyncio.ensure_future(one(frame)) for url, frame in first_of.items()}
        try:
            await asyncio.gather(*tasks.values())
        except BaseException:
            # The others are left to finish (each ingest is bounded by its own limits): one cut
            # short by a cancel can leave a staging file or an open spool behind. Then what
            # they stored goes.
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            await self._delete(ingested)
            raise
        return {frame.frame_id: tasks[frame.image_url].result() for frame in frames}

    async def _asset(self, url: str, project_id: str, ingested: list[AssetRecord]) -> AssetRecord:
        """The asset of ``url``; one ingested here is added to ``ingested`` at once."""
        if url.startswith(self._own_prefix):
            key = url[len(self._own_prefix) :].split("?", 1)[0].split("#", 1)[0]
            try:
                record = await self._catalog.assets.get_by_key(key)
            except NotFound:
                raise InvalidInput(
                    f"{url} is an address of our media store, but no asset is stored there.",
                    details={"image_url": url},
                ) from None
        else:
            if url[:5].lower() == "data:":
                record = await self._assets.ingest_base64(url, project_id=project_id)
            else:
                record = await self._assets.ingest_url(url, project_id=project_id)
            ingested.append(record)
        if record.kind != "image":
            raise UnsupportedMediaType(
                f"A generated frame must be an image; {url[:200]} is a {record.kind}.",
                details={"image_url": url[:200], "kind": record.kind},
            )
        return record

    async def _delete(self, records: Sequence[AssetRecord]) -> None:
        for record in records:
            try:
                await self._assets.delete(record.id)
            except ReelforgeError as exc:
                log.warning("segments.frame_delete_failed", asset_id=record.id, code=exc.code)
