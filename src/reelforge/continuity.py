"""Measured continuity: stored images' faces against their characters' reference photos.

Every feature that shows characters with reference images measures what it made the same way:
for each image (a key frame, a clip's poster frame) it finds the faces in the stored image and
each reference's face (:class:`~reelforge.imaging.faces.FaceAnalyzer`: dlib HOG detection,
128-D identity embeddings), and gives each character the nearest face not already taken by a
nearer character. A character whose reference shows no face is not measured.

Per image this makes the ``identity`` checks (:class:`FaceCheck`) and a quality score (1 - the
largest distance, 0 when a face is missing), and a warning for each face missing or too far.
Without the dlib model files nothing is measured and one warning says so. One analyzer per
model folder and detection size serves the whole process (:func:`shared_analyzer`): the models
load once, on the first image measured; everything CPU-bound runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, Field

from reelforge.assets import AssetService
from reelforge.catalog.records import AssetRecord
from reelforge.errors import MissingModelFiles, ReelforgeError
from reelforge.imaging.faces import (
    RECOGNITION_MODEL_FILE,
    SHAPE_PREDICTOR_FILE,
    Embedding,
    FaceAnalyzer,
    FaceModels,
)
from reelforge.log import get_logger
from reelforge.media.store import MediaStore

__all__ = [
    "MODELS_MISSING",
    "FaceCheck",
    "IdentityMeter",
    "Measured",
    "MeasuredImage",
    "shared_analyzer",
]

log = get_logger(__name__)

MODELS_MISSING = "Identity not measured: the dlib face models are not installed."
# Posters and thumbnails are small JPEGs; this only guards against a wrong key.
_MAX_POSTER_BYTES = 16 * 1024 * 1024


class FaceCheck(BaseModel):
    """One character's face in one image against the character's reference photo.

    ``distance``: dlib's identity distance (0 = the same face; None when no face was found
    for the character); ``passed``: under the threshold."""

    character: str
    reference: str = Field(description="The reference image's asset id")
    face_found: bool
    distance: float | None
    passed: bool


@dataclass(frozen=True, slots=True)
class MeasuredImage:
    """One image to measure: its id (a frame's, a segment's), the store key of its picture
    (None: there is none, so no face is found) and its characters' reference asset ids by
    name."""

    image_id: str
    key: str | None
    references: Mapping[str, str]
    max_bytes: int = _MAX_POSTER_BYTES

    @classmethod
    def of_image(
        cls, image_id: str, asset: AssetRecord, references: Mapping[str, str]
    ) -> MeasuredImage:
        """A stored image asset itself."""
        key = asset.key if asset.kind == "image" else None
        return cls(image_id, key, references, asset.size_bytes + 1)

    @classmethod
    def of_poster(
        cls, image_id: str, asset: AssetRecord, references: Mapping[str, str]
    ) -> MeasuredImage:
        """A stored video's poster frame (the JPEG that ingest made of its first frame)."""
        return cls(image_id, asset.thumbnail_key, references)


@dataclass(slots=True)
class Measured:
    """What a measurement found: checks by image id, which references show a face (by asset
    id) and the warnings."""

    checks: dict[str, list[FaceCheck]] = field(default_factory=dict)
    reference_faces: dict[str, bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def quality_score(self, image_id: str) -> float | None:
        """1 - the image's largest distance (a missing face counts 1); None: not measured."""
        checks = self.checks.get(image_id)
        if not checks:
            return None
        worst = max(1.0 if c.distance is None else c.distance for c in checks)
        return round(min(1.0, max(0.0, 1.0 - worst)), 4)


@functools.cache
def shared_analyzer(face_models_dir: Path | None, detect_max_side: int) -> FaceAnalyzer:
    """The process's analyzer for these models and detection size (built now, models loaded
    on first use). ``face_models_dir``: the dlib model files' folder (None: the installed
    package's)."""
    models = None
    if face_models_dir is not None:
        root = face_models_dir.expanduser()
        models = FaceModels(root / SHAPE_PREDICTOR_FILE, root / RECOGNITION_MODEL_FILE)
    return FaceAnalyzer(models, detect_max_side=detect_max_side)


class IdentityMeter:
    """Measures stored images against their characters' reference photos (see the module).
    ``feature`` names the log events."""

    def __init__(
        self,
        store: MediaStore,
        assets: AssetService,
        *,
        threshold: float,
        face_models_dir: Path | None,
        detect_max_side: int,
        feature: str,
    ) -> None:
        self._store = store
        self._assets = assets
        self._threshold = threshold
        self._feature = feature
        self._analyzer = shared_analyzer(face_models_dir, detect_max_side)

    @property
    def threshold(self) -> float:
        return self._threshold

    async def measure(self, images: Sequence[MeasuredImage]) -> Measured:
        """The checks and warnings of ``images`` (those with references)."""
        result = Measured()
        if not images:
            return result
        embeddings: dict[str, Embedding | None] = {}
        try:
            for reference in sorted({r for i in images for r in i.references.values()}):
                embeddings[reference] = await self._reference(reference)
            for image in images:
                wanted = {
                    name: asset_id
                    for name, asset_id in image.references.items()
                    if embeddings.get(asset_id) is not None
                }
                if wanted:
                    result.checks[image.image_id] = await self._image(image, wanted, embeddings)
        except MissingModelFiles as exc:
            log.warning(f"{self._feature}.identity_unavailable", code=exc.code)
            return Measured(warnings=[MODELS_MISSING])
        result.reference_faces = {k: v is not None for k, v in embeddings.items()}
        result.warnings = self._warnings(images, result.checks)
        return result

    async def _reference(self, asset_id: str) -> Embedding | None:
        try:
            asset = await self._assets.get(asset_id)
            image = await self._read(MeasuredImage.of_image(asset_id, asset, {}))
        except ReelforgeError as exc:
            log.warning(f"{self._feature}.reference_unreadable", asset_id=asset_id, code=exc.code)
            return None
        if image is None:
            return None
        faces = await asyncio.to_thread(self._analyzer.detect, image)
        if not faces:
            return None
        return await asyncio.to_thread(self._analyzer.describe, image, faces[0])

    async def _image(
        self,
        measured: MeasuredImage,
        wanted: Mapping[str, str],
        embeddings: Mapping[str, Embedding | None],
    ) -> list[FaceCheck]:
        image = await self._read(measured)
        found: list[Embedding] = []
        if image is not None:
            faces = await asyncio.to_thread(self._analyzer.detect, image)
            for face in faces:
                found.append(await asyncio.to_thread(self._analyzer.describe, image, face))
        pairs = sorted(
            (float(np.linalg.norm(embedding - reference)), name, index)
            for name, asset_id in wanted.items()
            if (reference := embeddings.get(asset_id)) is not None
            for index, embedding in enumerate(found)
        )
        nearest: dict[str, float] = {}
        taken: set[int] = set()
        for gap, name, index in pairs:
            if name not in nearest and index not in taken:
                nearest[name] = round(gap, 4)
                taken.add(index)
        checks = []
        for name, asset_id in wanted.items():
            distance = nearest.get(name)
            checks.append(
                FaceCheck(
                    character=name,
                    reference=asset_id,
                    face_found=distance is not None,
                    distance=distance,
                    passed=distance is not None and distance < self._threshold,
                )
            )
        return checks

    async def _read(self, image: MeasuredImage) -> Image.Image | None:
        if image.key is None:
            return None
        data = await self._store.get_bytes(image.key, max_bytes=image.max_bytes)
        return await asyncio.to_thread(_decode, data)

    def _warnings(
        self, images: Sequence[MeasuredImage], checks: Mapping[str, list[FaceCheck]]
    ) -> list[str]:
        warnings = []
        for image in images:
            for check in checks.get(image.image_id, ()):
                if check.distance is None:
                    warnings.append(f"{image.image_id}: no face found for {check.character}.")
                elif not check.passed:
                    warnings.append(
                        f"{image.image_id}: {check.character}'s face is {check.distance:.2f} "
                        f"from the reference (threshold {self._threshold:g})."
                    )
        return warnings


def _decode(data: bytes) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
