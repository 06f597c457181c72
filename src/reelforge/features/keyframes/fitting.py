"""The resolution cap holds for outputs too: a frame returned larger is scaled down to fit.

Providers do not always honour the size asked of them (one answers about a megapixel at the
asked ratio: 1368x768 for 16:9). When a frame's image is over ``keyframes.max_width`` x
``max_height``, finishing stores a copy scaled down to fit (same aspect ratio, same format,
:func:`reelforge.imaging.downscale.fit_within`) as an asset of its own, answers with that copy's
URL and a :class:`~reelforge.features.keyframes.schemas.Downscale` on the frame, and notes it in
the job's history (``note`` ``{"downscaled": {...}}``). The original stays stored.

Finishing is a durable step that may run again: the copy's asset id is derived from the
original's and the cap, so a second run finds the first one's copy, and the note is written once.
"""

from __future__ import annotations

import asyncio
import hashlib

from reelforge.assets import AssetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord, JobRecord
from reelforge.errors import CorruptMedia, NotFound
from reelforge.features.keyframes.config import KeyframesSettings
from reelforge.features.keyframes.schemas import Downscale
from reelforge.imaging.downscale import fit_size, fit_within
from reelforge.log import get_logger
from reelforge.media.store import MediaStore

__all__ = ["FrameFitter"]

log = get_logger(__name__)

_MAX_SOURCE_BYTES = 256 * 1024 * 1024


class FrameFitter:
    """Keeps the frames a run answers with inside the keyframes resolution cap."""

    def __init__(
        self,
        settings: KeyframesSettings,
        catalog: Catalog,
        store: MediaStore,
        assets: AssetService,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._store = store
        self._assets = assets

    async def fit(self, job: JobRecord, asset: AssetRecord) -> tuple[AssetRecord, Downscale | None]:
        """The asset to answer with for ``job``'s output ``asset``, and how it was scaled."""
        cap = self._settings.max_width, self._settings.max_height
        if asset.kind != "image" or asset.width is None or asset.height is None:
            return asset, None
        size = fit_size(asset.width, asset.height, *cap)
        if size == (asset.width, asset.height):
            return asset, None
        fitted = await self._fitted_copy(asset, cap)
        downscale = Downscale(
            original_width=asset.width,
            original_height=asset.height,
            width=fitted.width or size[0],
            height=fitted.height or size[1],
            max_width=cap[0],
            max_height=cap[1],
            original_asset_id=asset.id,
        )
        await self._note(job, fitted, downscale)
        return fitted, downscale

    async def _fitted_copy(self, asset: AssetRecord, cap: tuple[int, int]) -> AssetRecord:
        fitted_id = _fitted_asset_id(asset.id, cap)
        try:
            return await self._catalog.assets.get(fitted_id)
        except NotFound:
            pass
        data = await self._store.get_bytes(asset.key, max_bytes=_MAX_SOURCE_BYTES)
        fitted = await asyncio.to_thread(fit_within, data, *cap)
        if fitted is None:  # the stored dimensions were wrong; never expected
            raise CorruptMedia(
                "The frame's recorded size does not match its image.",
                details={"asset_id": asset.id},
            )
        record = await self._assets.ingest_bytes(
            fitted.data, source="provider", project_id=asset.project_id, asset_id=fitted_id
        )
        log.info(
            "keyframes.frame_downscaled",
            asset_id=asset.id,
            fitted_asset_id=record.id,
            original=f"{asset.width}x{asset.height}",
            fitted=f"{record.width}x{record.height}",
        )
        return record

    async def _note(self, job: JobRecord, fitted: AssetRecord, downscale: Downscale) -> None:
        events = await self._catalog.jobs.events(job.id)
        if any(e.kind == "note" and "downscaled" in e.payload for e in events):
            return
        note = {**downscale.model_dump(mode="json"), "asset_id": fitted.id}
        await self._catalog.jobs.append_event(job.id, "note", {"downscaled": note})


def _fitted_asset_id(original_id: str, cap: tuple[int, int]) -> str:
    """The copy's id: one per original and cap, so a finish that runs again finds it."""
    return hashlib.sha256(f"{original_id}/fit/{cap[0]}x{cap[1]}".encode()).hexdigest()[:32]
