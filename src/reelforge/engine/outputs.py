"""A job's outputs: into the store and the catalog under ids fixed in advance, and out again.

An output's asset id is derived from (job, attempt, output index), so a step that runs twice
finds the first run's asset instead of paying for another download. The asset row and its
link to the job are written in one transaction: no asset is ever left without its job.
"""

from __future__ import annotations

import uuid

from reelforge.assets import AssetService
from reelforge.catalog import Catalog
from reelforge.errors import NotFound
from reelforge.providers.base import OutputMedia

__all__ = ["JobOutputs", "output_asset_id"]

_ASSET_NAMESPACE = uuid.UUID("5d0f3b4e-4a4e-4f0e-9d8e-7265656c666f")


def output_asset_id(job_id: str, attempt: int, index: int) -> str:
    """The asset id of a job's output: fixed in advance, so ingesting twice finds the first."""
    return uuid.uuid5(_ASSET_NAMESPACE, f"{job_id}/{attempt}/{index}").hex


class JobOutputs:
    """Ingest and remove the outputs of provider jobs."""

    def __init__(self, catalog: Catalog, assets: AssetService) -> None:
        self._catalog = catalog
        self._assets = assets

    async def ingest(self, job_id: str, attempt: int, index: int, output: OutputMedia) -> str:
        """The output's asset id, once it is in the store and attached to the job."""
        asset_id = output_asset_id(job_id, attempt, index)
        try:
            await self._catalog.assets.get(asset_id)
        except NotFound:
            if output.data is not None:
                await self._assets.ingest_bytes(
                    output.data, source="provider", asset_id=asset_id, job_id=job_id
                )
            else:
                await self._assets.ingest_url(
                    str(output.url), from_provider=True, asset_id=asset_id, job_id=job_id
                )
            return asset_id
        # A replay: the asset was written with its link to the job; attaching again is a
        # no-op, except for an asset that an older release wrote before linking it.
        await self._catalog.jobs.attach_assets(job_id, [asset_id])
        return asset_id

    async def drop(self, job_id: str) -> None:
        """Remove every output of the job (a failed, retried or canceled attempt's)."""
        for asset in await self._catalog.jobs.outputs(job_id):
            try:
                await self._assets.delete(asset.id)
            except NotFound:
                continue
