"""Measured continuity: each generated frame's faces against its characters' reference photos.

The finish step measures, once the frames are stored: for every frame whose cast has a
reference image (the plan's ``cast[].reference``, an asset id) it finds the faces in the stored
frame and each reference's face (:class:`~reelforge.imaging.faces.FaceAnalyzer`: dlib HOG
detection, 128-D identity embeddings), and gives each character the nearest face not already
taken by a nearer character. A character whose reference shows no face is not measured.

Per frame this makes the ``identity`` checks in ``provider_metadata`` and the spec's
``quality_score`` (1 - the largest distance, 0 when a face is missing); per run, the
consistency report (per character: frames, faces found, distances) and the ``warnings`` for
frames whose face is missing or too far. Without the dlib model files nothing is measured and
one warning says so. The models are loaded once per process, on the first frame measured;
everything CPU-bound runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from reelforge.assets import AssetService
from reelforge.catalog.records import AssetRecord
from reelforge.errors import MissingModelFiles, ReelforgeError
from reelforge.features.keyframes.schemas import CharacterConsistency, FaceCheck
from reelforge.imaging.faces import (
    RECOGNITION_MODEL_FILE,
    SHAPE_PREDICTOR_FILE,
    Embedding,
    FaceAnalyzer,
    FaceModels,
)
from reelforge.log import get_logger
from reelforge.media.store import MediaStore

__all__ = ["ContinuityCheck", "FrameCast", "RunContinuity", "cast_references"]

log = get_logger(__name__)

MODELS_MISSING = "Identity not measured: the dlib face models are not installed."


@dataclass(frozen=True, slots=True)
class FrameCast:
    """One generated frame to measure: its id, its stored image, and its characters'
    reference asset ids by name."""

    frame_id: str
    asset: AssetRecord
    references: Mapping[str, str]


def cast_references(plan: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """From a run's stored plan: each frame's characters with a reference, by frame id."""
    found: dict[str, dict[str, str]] = {}
    for frame in plan.get("frames", ()):
        cast = {
            str(c["name"]): str(c["reference"])
            for c in frame.get("cast", ())
            if isinstance(c, Mapping) and c.get("reference")
        }
        if cast:
            found[str(frame["frame_id"])] = cast
    return found


@dataclass(slots=True)
class RunContinuity:
    """What a run's measurement found: checks by frame id, the report and the warnings."""

    checks: dict[str, list[FaceCheck]] = field(default_factory=dict)
    report: list[CharacterConsistency] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def quality_score(self, frame_id: str) -> float | None:
        """1 - the frame's largest distance (a missing face counts 1); None: not measured."""
        checks = self.checks.get(frame_id)
        if not checks:
            return None
        worst = max(1.0 if c.distance is None else c.distance for c in checks)
        return round(min(1.0, max(0.0, 1.0 - worst)), 4)


class ContinuityCheck:
    """Measures runs' frames against their characters' reference photos (see the module)."""

    def __init__(
        self,
        store: MediaStore,
        assets: AssetService,
        *,
        threshold: float,
        face_models_dir: Path | None,
        detect_max_side: int,
    ) -> None:
        self._store = store
        self._assets = assets
        self._threshold = threshold
        models = None
        if face_models_dir is not None:
            root = face_models_dir.expanduser()
            models = FaceModels(root / SHAPE_PREDICTOR_FILE, root / RECOGNITION_MODEL_FILE)
        # Built now, loaded on first use: one model load for the life of the service.
        self._analyzer = FaceAnalyzer(models, detect_max_side=detect_max_side)

    async def measure(self, frames: Sequence[FrameCast]) -> RunContinuity:
        """The checks, report and warnings of ``frames`` (those with references)."""
        result = RunContinuity()
        if not frames:
            return result
        embeddings: dict[str, Embedding | None] = {}
        try:
            for reference in sorted({r for f in frames for r in f.references.values()}):
                embeddings[reference] = await self._reference(reference)
            for frame in frames:
                wanted = {
                    name: asset_id
                    for name, asset_id in frame.references.items()
                    if embeddings.get(asset_id) is not None
                }
                if wanted:
                    result.checks[frame.frame_id] = await self._frame(frame, wanted, embeddings)
        except MissingModelFiles as exc:
            log.warning("keyframes.identity_unavailable", code=exc.code)
            return RunContinuity(warnings=[MODELS_MISSING])
        result.report = _report(frames, result.checks, embeddings)
        result.warnings = self._warnings(frames, result.checks)
        return result

    async def _reference(self, asset_id: str) -> Embedding | None:
        try:
            image = await self._image(await self._assets.get(asset_id))
        except ReelforgeError as exc:
            log.warning("keyframes.reference_unreadable", asset_id=asset_id, code=exc.code)
            return None
        if image is None:
            return None
        faces = await asyncio.to_thread(self._analyzer.detect, image)
        if not faces:
            return None
        return await asyncio.to_thread(self._analyzer.describe, image, faces[0])

    async def _frame(
        self,
        frame: FrameCast,
        wanted: Mapping[str, str],
        embeddings: Mapping[str, Embedding | None],
    ) -> list[FaceCheck]:
        image = await self._image(frame.asset)
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

    async def _image(self, asset: AssetRecord) -> Image.Image | None:
        if asset.kind != "image":
            return None
        data = await self._store.get_bytes(asset.key, max_bytes=asset.size_bytes + 1)
        return await asyncio.to_thread(_decode, data)

    def _warnings(
        self, frames: Sequence[FrameCast], checks: Mapping[str, list[FaceCheck]]
    ) -> list[str]:
        warnings = []
        for frame in frames:
            for check in checks.get(frame.frame_id, ()):
                if check.distance is None:
                    warnings.append(f"{frame.frame_id}: no face found for {check.character}.")
                elif not check.passed:
                    warnings.append(
                        f"{frame.frame_id}: {check.character}'s face is {check.distance:.2f} "
                        f"from the reference (threshold {self._threshold:g})."
                    )
        return warnings


def _report(
    frames: Sequence[FrameCast],
    checks: Mapping[str, list[FaceCheck]],
    embeddings: Mapping[str, Embedding | None],
) -> list[CharacterConsistency]:
    report = []
    names = dict.fromkeys(n for f in frames for n in f.references)
    for name in names:
        shown = [f for f in frames if name in f.references]
        reference = shown[0].references[name]
        distances: dict[str, float | None] = {}
        for frame in shown:
            for check in checks.get(frame.frame_id, ()):
                if check.character == name:
                    distances[frame.frame_id] = check.distance
        measured = [d for d in distances.values() if d is not None]
        report.append(
            CharacterConsistency(
                character=name,
                reference=reference,
                reference_face=embeddings.get(reference) is not None,
                frames=len(shown),
                faces_found=len(measured),
                passed=sum(
                    1
                    for frame in shown
                    for check in checks.get(frame.frame_id, ())
                    if check.character == name and check.passed
                ),
                mean_distance=round(sum(measured) / len(measured), 4) if measured else None,
                worst_distance=max(measured) if measured else None,
                distances=distances,
            )
        )
    return report


def _decode(data: bytes) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
