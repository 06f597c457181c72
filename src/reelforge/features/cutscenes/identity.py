"""Measured continuity of cutscenes: the still, and the clip's poster frame, against the faces
of the cutscene's characters.

A trigger's characters that matched a workspace character with a reference image (the cast its
request recorded, :mod:`.casting`) are the ones measured: when the still is stored, the still
itself; when the clip is stored, its poster frame (the JPEG of its first frame that ingest
makes, the asset's ``thumbnail_key``), each against those references
(:mod:`reelforge.continuity`). What it finds goes onto the media record's ``identity`` column:
the per-character checks, the quality score and the warnings for a face missing or too far. A
reference without a face is not measured; a cutscene with no referenced character is left as
it was (no column written, no field shown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reelforge.assets import AssetService
from reelforge.catalog.records import AssetRecord
from reelforge.continuity import IdentityMeter, MeasuredImage
from reelforge.features.cutscenes.tables import CutsceneRecord, MediaRecord

__all__ = ["MediaIdentity", "identity_fields", "referenced_characters"]


def referenced_characters(cutscene: CutsceneRecord) -> dict[str, str]:
    """The reference asset id of each workspace character of the cutscene's cast, by name."""
    cast = cutscene.request.get("cast") or {}
    found: dict[str, str] = {}
    for member in cast.get("characters") or ():
        reference = member.get("reference")
        if member.get("character_id") and isinstance(reference, str):
            found.setdefault(str(member["name"]), reference)
    return found


def identity_fields(record: MediaRecord) -> dict[str, Any]:
    """What the API shows of a measured media record (nothing for one not measured)."""
    if record.identity is None:
        return {}
    return {
        "identity": record.identity.get("checks", []),
        "quality_score": record.identity.get("quality_score"),
        "warnings": record.identity.get("warnings", []),
    }


class MediaIdentity:
    """Measures a cutscene's stored media against its characters' references (see the
    module)."""

    def __init__(self, meter: IdentityMeter, assets: AssetService) -> None:
        self._meter = meter
        self._assets = assets

    async def measured(
        self, cutscene: CutsceneRecord, media: MediaRecord, asset_id: str
    ) -> dict[str, Any] | None:
        """The ``identity`` column of ``media`` now stored as the asset ``asset_id`` (None:
        nothing to measure)."""
        references = referenced_characters(cutscene)
        if not references:
            return None
        asset = await self._assets.get(asset_id)
        image = _measured_image(media, asset, references)
        measured = await self._meter.measure([image])
        checks = measured.checks.get(media.id)
        if not checks and not measured.warnings:
            return None  # no reference shows a face
        return {
            "checks": [check.model_dump(mode="json") for check in checks or ()],
            "quality_score": measured.quality_score(media.id),
            "threshold": self._meter.threshold,
            "warnings": [_about(media, warning) for warning in measured.warnings],
        }


def _measured_image(
    media: MediaRecord, asset: AssetRecord, references: Mapping[str, str]
) -> MeasuredImage:
    if media.asset_type == "video":
        return MeasuredImage.of_poster(media.id, asset, references)
    return MeasuredImage.of_image(media.id, asset, references)


def _about(media: MediaRecord, warning: str) -> str:
    """The meter's warning about the media, named by what it is rather than by its id."""
    what = "clip's poster" if media.asset_type == "video" else "still"
    prefix = f"{media.id}: "
    return f"The {what}: {warning.removeprefix(prefix)}" if warning.startswith(prefix) else warning
