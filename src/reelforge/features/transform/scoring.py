"""A finished transform run's outputs, each with its identity score against the input face.

The finish step scores, not the request: it finds the photo's face again (the check that
passed when the request came in finds the same one) and compares every output image with it
(:mod:`.identity`). A video's outputs are ``not_an_image``; once the request that owned the
photo has deleted it (it went away before the run ended), the scores are ``unavailable``.
CPU-bound work runs in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib

from PIL import Image

from reelforge.assets import AssetService
from reelforge.engine.service import RunView
from reelforge.errors import InvalidInput, NotFound
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.identity import NOT_AN_IMAGE, UNAVAILABLE, IdentityJudge
from reelforge.features.transform.inputs import decode_upright
from reelforge.features.transform.results import Output
from reelforge.features.transform.schemas import Task
from reelforge.features.transform.validation import check_face
from reelforge.media.store import MediaStore

__all__ = ["OutputScoring"]


class OutputScoring:
    """Reads a run's outputs and scores them."""

    def __init__(
        self, assets: AssetService, store: MediaStore, settings: TransformSettings
    ) -> None:
        self._assets = assets
        self._store = store
        self._settings = settings

    async def outputs(
        self, view: RunView, task: Task, upload_id: str | None, judge: IdentityJudge
    ) -> list[Output]:
        """The succeeded jobs' outputs in order, scored against the photo ``upload_id``."""
        reference = None
        photo = await self._upright(upload_id) if task == "IMAGE_GENERATION" else None
        if photo is not None:
            with contextlib.suppress(InvalidInput):
                face = await asyncio.to_thread(check_face, judge.analyzer, photo, self._settings)
                reference = await asyncio.to_thread(judge.reference, photo, face)
        outputs = []
        for job in view.jobs:
            if job.status != "succeeded":
                continue
            for asset_id in job.asset_ids:
                asset = await self._assets.get(asset_id)
                score = NOT_AN_IMAGE
                if asset.kind == "image" and task == "IMAGE_GENERATION":
                    score = UNAVAILABLE
                    if reference is not None:
                        data = await self._store.get_bytes(
                            asset.key, max_bytes=asset.size_bytes + 1
                        )
                        image, _ = await asyncio.to_thread(decode_upright, data)
                        score = await asyncio.to_thread(judge.score, reference, image)
                outputs.append(Output(job, asset, self._store.public_url(asset.key), score))
        return outputs

    async def _upright(self, asset_id: str | None) -> Image.Image | None:
        """The uploaded photo, upright; None once the request that owned it deleted it."""
        if asset_id is None:
            return None
        try:
            upload = await self._assets.get(asset_id)
            data = await self._store.get_bytes(upload.key, max_bytes=upload.size_bytes + 1)
        except NotFound:
            return None
        image, _ = await asyncio.to_thread(decode_upright, data)
        return image
