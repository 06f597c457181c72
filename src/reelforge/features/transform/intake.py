"""Media coming into a transform: into the store, or refused in the spec's words.

Three ways in, one result (an asset): a :class:`~.upload.StagedMedia` (a multipart upload or a
local file, already gated while it streamed), a URL (safe ingest: guarded, redirects vetted,
downloads capped at the transform's largest file), or text that is either a URL or base64
(``/dev/run``'s ``image``, the MCP tool's ``media``). Ingest's own refusals (undecodable,
too many pixels, no video stream) become the spec's media errors. Instead of media, a workspace
character's id: a copy of its newest reference image (:func:`character_copy`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from reelforge.assets import AssetService
from reelforge.catalog import Catalog
from reelforge.catalog.records import AssetRecord
from reelforge.errors import (
    CorruptMedia,
    InvalidInput,
    MediaTooLarge,
    ReelforgeError,
    UnsupportedMediaType,
)
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.upload import (
    MediaUrl,
    StagedMedia,
    decode_base64_media,
    stage_chunks,
)
from reelforge.features.transform.validation import (
    ACCEPTED_TYPES,
    media_error,
    missing_field,
    unsupported_format,
)
from reelforge.log import get_logger
from reelforge.media.ingest import Ingestor
from reelforge.media.store import MediaStore
from reelforge.references import ReferenceResolver
from reelforge.settings import IngestSettings

__all__ = ["Intake", "capped_assets", "character_copy"]

_CHUNK = 1024 * 1024
_CHARACTER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
log = get_logger(__name__)


async def character_copy(
    references: ReferenceResolver,
    assets: AssetService,
    store: MediaStore,
    character_id: Any,
    field: str,
) -> AssetRecord:
    """A copy of the workspace character's newest reference image (a copy: the transform
    deletes its input unless kept, and the character keeps hers). ``NOT_FOUND`` for no such
    character; ``INVALID_INPUT`` for a malformed id or a character without a reference yet."""
    if not isinstance(character_id, str) or not _CHARACTER_ID.match(character_id):
        raise InvalidInput(
            f"{field} must be a workspace character id.",
            details={"field": field, "reason": "character_id"},
        )
    reference = await references.of_character(character_id, field=field)
    if reference is None or reference.asset_id is None:
        raise InvalidInput(
            f"Workspace character {character_id!r} has no reference image yet: make one "
            f"(POST /v1/characters/{character_id}/generate-initial-image), or send a photo.",
            details={"field": field, "character_id": character_id, "reason": "no_reference"},
        )
    original = await assets.get(reference.asset_id)
    data = await store.get_bytes(original.key, max_bytes=original.size_bytes + 1)
    copied = await assets.ingest_bytes(data, source="upload", project_id=original.project_id)
    log.info(
        "transform.character_received",
        character_id=character_id,
        reference_asset_id=original.id,
        asset_id=copied.id,
    )
    return copied


class Intake:
    """Stores checked media as assets for the transform service.

    ``assets`` stores uploads; ``url_assets`` fetches URLs, its ingest capped at the
    transform's largest file (:func:`capped_assets`)."""

    def __init__(
        self,
        settings: TransformSettings,
        assets: AssetService,
        url_assets: AssetService,
        temp_dir: Path,
    ) -> None:
        self.settings = settings
        self._assets = assets
        self._url_assets = url_assets
        self._temp_dir = temp_dir

    async def receive(self, media: StagedMedia | MediaUrl) -> AssetRecord:
        """The media in the store, or the spec's media error."""
        try:
            if isinstance(media, StagedMedia):
                return await self._assets.ingest_stream(_file_chunks(media.path))
            record = await self._url_assets.ingest_url(media.url)
        except (UnsupportedMediaType, MediaTooLarge, CorruptMedia) as exc:
            raise _refusal(exc) from None
        settings = self.settings
        limit = settings.image_max_bytes if record.kind == "image" else settings.video_max_bytes
        if record.content_type not in ACCEPTED_TYPES or record.size_bytes > limit:
            await self._assets.delete(record.id)
            if record.content_type not in ACCEPTED_TYPES:
                raise unsupported_format(content_type=record.content_type)
            raise media_error("too_large", kind=record.kind, max_bytes=limit)
        return record

    async def receive_text(self, value: Any, field: str) -> AssetRecord:
        """``value`` is an http(s) URL or base64 (bare or a ``data:`` URI)."""
        if not isinstance(value, str) or not value.strip():
            raise missing_field(field, "A photo or video is required, as base64 or a URL")
        text = value.strip()
        if text[:8].lower().startswith(("http://", "https://")):
            return await self.receive(MediaUrl(text))
        if "://" in text[:16]:
            raise InvalidInput(
                "Media URLs must use http or https.", details={"field": field, "reason": "scheme"}
            )
        data = decode_base64_media(text, self.settings)
        async with stage_chunks(_single(data), self.settings, self._temp_dir) as staged:
            return await self.receive(staged)


def capped_assets(
    settings: TransformSettings,
    catalog: Catalog,
    store: MediaStore,
    ingest: IngestSettings,
    http: httpx.AsyncClient,
    temp_dir: Path,
) -> AssetService:
    """Assets whose ingest stops at the transform's largest file (for URLs)."""
    cap = max(settings.image_max_bytes, settings.video_max_bytes)
    capped = ingest.model_copy(update={"max_bytes": cap})
    return AssetService(catalog, store, Ingestor(store, capped, http, temp_dir=temp_dir))


def _refusal(exc: ReelforgeError) -> InvalidInput:
    if isinstance(exc, UnsupportedMediaType):
        return unsupported_format()
    if isinstance(exc, MediaTooLarge):
        return media_error("too_large")
    return media_error("corrupt")


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            yield chunk


async def _single(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), _CHUNK):
        yield data[start : start + _CHUNK]
