"""Measured continuity: each generated frame's faces against its characters' reference photos.

The finish step measures, once the frames are stored: every frame whose cast has a reference
image (the plan's ``cast[].reference``, an asset id) is measured against its characters'
reference photos (:mod:`reelforge.continuity`: faces found, each character given the nearest
face not already taken by a nearer character; a reference without a face is not measured).

Per frame this makes the ``identity`` checks in ``provider_metadata`` and the spec's
``quality_score`` (1 - the largest distance, 0 when a face is missing); per run, the
consistency report (per character: frames, faces found, distances) and the ``warnings`` for
frames whose face is missing or too far. Without the dlib model files nothing is measured and
one warning says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelforge.assets import AssetService
from reelforge.catalog.records import AssetRecord
from reelforge.continuity import FaceCheck, IdentityMeter, MeasuredImage
from reelforge.features.keyframes.schemas import CharacterConsistency
from reelforge.media.store import MediaStore

__all__ = ["ContinuityCheck", "FrameCast", "RunContinuity", "cast_references"]


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
        self._meter = IdentityMeter(
            store,
            assets,
            threshold=threshold,
            face_models_dir=face_models_dir,
            detect_max_side=detect_max_side,
            feature="keyframes",
        )

    async def measure(self, frames: Sequence[FrameCast]) -> RunContinuity:
        """The checks, report and warnings of ``frames`` (those with references)."""
        measured = await self._meter.measure(
            [MeasuredImage.of_image(f.frame_id, f.asset, f.references) for f in frames]
        )
        if not measured.reference_faces:
            # Nothing to measure, or no models: no report either.
            return RunContinuity(warnings=measured.warnings)
        return RunContinuity(
            checks=measured.checks,
            report=_report(frames, measured.checks, measured.reference_faces),
            warnings=measured.warnings,
        )


def _report(
    frames: Sequence[FrameCast],
    checks: Mapping[str, list[FaceCheck]],
    reference_faces: Mapping[str, bool],
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
                reference_face=reference_faces.get(reference, False),
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
