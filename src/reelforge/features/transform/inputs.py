"""A transform's input: the upload, the face check, and what each provider is given.

For a photo: decoded upright (EXIF orientation applied), face-checked, and reframed to the
asked aspect ratio around the face when one is asked (or when EXIF turned it, so the provider
sees it upright); the reframed picture is a derived asset made once and reused by a fallback.
For a video: its first frame, styled first when the local studio is the one animating it.
Derived assets are always deleted at the end; the upload unless the user keeps it: by this
object, or once handed over to the run of the transform's last provider (:meth:`hand_over`),
by that run's finish step (:func:`delete_inputs`), so a request that goes away mid-run does not
pull the input from under its jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from PIL import Image, ImageOps

from reelforge.assets import AssetService
from reelforge.catalog.records import AssetRecord
from reelforge.errors import NotFound, ReelforgeError
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.framing import (
    crop_to_aspect,
    first_frame,
    fit_size,
    png_bytes,
    ratio_of,
)
from reelforge.features.transform.planning import LOCAL, TransformPlan
from reelforge.features.transform.schemas import STYLE_PRESETS, Task, TransformRequest
from reelforge.features.transform.validation import check_face
from reelforge.imaging.faces import DetectedFace, FaceAnalyzer
from reelforge.imaging.filters import apply_style
from reelforge.log import get_logger
from reelforge.media.store import MediaStore
from reelforge.providers.base import Capability
from reelforge.providers.registry import ProviderRegistry

__all__ = ["TransformInput", "decode_upright", "delete_inputs"]

log = get_logger(__name__)

_ORIENTATION = 0x0112
_HOSTED_VIDEO_BOX = 1280, 720


@runtime_checkable
class _SizeCap(Protocol):
    """What a transform reads from the local studio's settings: the largest frame it makes."""

    max_width: int
    max_height: int


def decode_upright(data: bytes) -> tuple[Image.Image, bool]:
    """The picture upright (EXIF orientation applied) in RGB, and whether it was turned."""
    with Image.open(io.BytesIO(data)) as opened:
        turned = opened.getexif().get(_ORIENTATION, 1) not in (0, 1)
        return ImageOps.exif_transpose(opened).convert("RGB"), turned


class TransformInput:
    """The upload of one transform and the inputs made from it."""

    def __init__(
        self,
        upload: AssetRecord,
        *,
        settings: TransformSettings,
        store: MediaStore,
        assets: AssetService,
        providers: ProviderRegistry,
        temp_dir: Path,
    ) -> None:
        self.settings = settings
        self._store = store
        self._assets = assets
        self._providers = providers
        self._temp_dir = temp_dir
        self.upload = upload
        self.task: Task = "VIDEO_GENERATION" if upload.kind == "video" else "IMAGE_GENERATION"
        self.image: Image.Image | None = None
        self.face: DetectedFace | None = None
        self._turned = False
        self._derived: AssetRecord | None = None
        self._handed_over = False

    async def check_photo(self, analyzer: FaceAnalyzer) -> None:
        """Decode the photo and find its one face (raises the face-check errors)."""
        data = await self._store.get_bytes(self.upload.key, max_bytes=self.upload.size_bytes + 1)
        image, self._turned = await asyncio.to_thread(decode_upright, data)
        self.face = await asyncio.to_thread(check_face, analyzer, image, self.settings)
        self.image = image

    async def plan_for(self, provider: str, request: TransformRequest) -> TransformPlan:
        """The provider's input asset and output size."""
        if self.task == "IMAGE_GENERATION":
            return await self._photo_plan(provider, request)
        if self._derived is None or provider == LOCAL:
            frame = await self._first_frame()
            if provider == LOCAL:
                look = STYLE_PRESETS.get(request.style_preset or "", "cinematic")
                frame = await asyncio.to_thread(apply_style, frame, look)
            await self._forget_derived()
            self._derived = await self._derive(frame)
        source = self._derived
        ratio = ratio_of(request.aspect_ratio, source.width or 1, source.height or 1)
        if provider == LOCAL:
            box = self._local_box(portrait_video=ratio < 1)
        else:
            box = _HOSTED_VIDEO_BOX if ratio >= 1 else _HOSTED_VIDEO_BOX[::-1]
        width, height = fit_size(ratio, *box)
        return TransformPlan(provider, Capability.IMAGE_TO_VIDEO, source.id, width, height)

    def owned(self, *, keep_upload: bool) -> tuple[str, ...]:
        """The assets to delete at the end: the derived input, and the upload unless kept."""
        upload = () if keep_upload else (self.upload.id,)
        return (*((self._derived.id,) if self._derived is not None else ()), *upload)

    def hand_over(self) -> None:
        """A run deletes the inputs from now on (its finish step), not :meth:`release`."""
        self._handed_over = True

    async def release(self, *, keep_upload: bool) -> None:
        """Delete the derived inputs, and the upload unless it is kept (unless handed over)."""
        if self._handed_over:
            return
        await self._forget_derived()
        if not keep_upload:
            await self._delete(self.upload)

    async def _photo_plan(self, provider: str, request: TransformRequest) -> TransformPlan:
        assert self.image is not None
        if self._derived is None and (request.aspect_ratio != "original" or self._turned):
            box = self.face.box if self.face is not None else None
            framed = crop_to_aspect(self.image, request.aspect_ratio, box)
            self._derived = await self._derive(framed)
        source = self._derived or self.upload
        ratio = ratio_of("original", source.width or 1, source.height or 1)
        if provider == LOCAL:
            bound = self._local_box(portrait_video=False)
        else:
            bound = (self.settings.max_output_side, self.settings.max_output_side)
        width, height = fit_size(ratio, *bound)
        return TransformPlan(provider, Capability.IMAGE_TO_IMAGE, source.id, width, height)

    def _local_box(self, *, portrait_video: bool) -> tuple[int, int]:
        studio = self._providers.get(LOCAL).settings
        assert isinstance(studio, _SizeCap)
        if portrait_video:
            return studio.max_height, studio.max_height
        return studio.max_width, studio.max_height

    async def _first_frame(self) -> Image.Image:
        async with self._downloaded(self._temp_dir) as path:
            return await asyncio.to_thread(first_frame, path, self.upload.content_type)

    async def _derive(self, image: Image.Image) -> AssetRecord:
        data = await asyncio.to_thread(png_bytes, image)
        return await self._assets.ingest_bytes(data, source="upload")

    async def _forget_derived(self) -> None:
        derived, self._derived = self._derived, None
        if derived is not None:
            await self._delete(derived)

    async def _delete(self, asset: AssetRecord) -> None:
        try:
            await self._assets.delete(asset.id)
            log.info("transform.input_deleted", asset_id=asset.id, size_bytes=asset.size_bytes)
        except ReelforgeError as exc:
            log.warning("transform.input_delete_failed", asset_id=asset.id, code=exc.code)

    @contextlib.asynccontextmanager
    async def _downloaded(self, folder: Path) -> AsyncIterator[Path]:
        """The upload's bytes in a temporary file (the store may be remote)."""
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        path = folder / f"transform-{self.upload.id}.part"
        try:
            with path.open("wb") as handle:
                async for chunk in self._store.get_stream(self.upload.key):
                    await asyncio.to_thread(handle.write, chunk)
            yield path
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)


async def delete_inputs(assets: AssetService, asset_ids: Iterable[str]) -> None:
    """Delete a transform's inputs (a finish step that runs twice finds them gone already);
    one that cannot be deleted is logged, not raised: the transform itself is done."""
    for asset_id in asset_ids:
        try:
            await assets.delete(asset_id)
        except NotFound:
            continue
        except ReelforgeError as exc:
            log.warning("transform.input_delete_failed", asset_id=asset_id, code=exc.code)
            continue
        log.info("transform.input_deleted", asset_id=asset_id)
