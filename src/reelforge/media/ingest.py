"""Safe ingest: the only way outside bytes enter the media store.

Every source (a URL, an upload stream, bytes, base64 or a data: URI) goes the same way: into a
temporary :class:`~reelforge.media.spool.Spool` (size cap, sha256, early sniff), then
:func:`~reelforge.media.sniff.sniff` by magic bytes, :func:`~reelforge.media.probe.probe_media`
(decode checks, thumbnail or poster), and only then into the store, object first and thumbnail
second. Any refusal or failure raises a :class:`~reelforge.errors.ReelforgeError` and leaves
nothing behind: no object, no thumbnail, no temporary file.

A caller's URL that reached an address only ``allowed_hosts`` opens (loopback, a private
network) fails one way whatever went wrong there: :class:`~reelforge.errors.FetchRejected`,
"Nothing could be ingested from <host:port>", the same for a closed port, a refused
connection, an HTTP error, a timeout or bytes that are not media, so ingest cannot be used to
map internal services (the cause goes to the log). Provider outputs (``source="provider"``)
keep their precise errors: their URL comes from a configured provider's answer, not from a
caller, and the engine decides on retries by them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from reelforge.errors import (
    FetchFailed,
    FetchRejected,
    InvalidInput,
    MediaTooLarge,
    ReelforgeError,
    StorageError,
    UnsupportedMediaType,
)
from reelforge.log import get_logger
from reelforge.media.fetch import FetchTrail, download
from reelforge.media.keys import asset_key, new_asset_id, thumbnail_key, validate_key
from reelforge.media.probe import probe_media
from reelforge.media.probe_gate import ProbeGate
from reelforge.media.sniff import MediaKind, MediaType
from reelforge.media.spool import Spool
from reelforge.media.store import MediaStore
from reelforge.media.url_guard import Resolver, UrlGuard, VettedUrl
from reelforge.settings import IngestSettings
from reelforge.tracing import Tracing

__all__ = ["IngestSource", "IngestedMedia", "Ingestor"]

IngestSource = Literal["url", "upload", "base64", "provider"]

_log = get_logger(__name__)
_DATA_URI = re.compile(r"data:(?P<mime>[^,;]*)(?P<params>(?:;[^,;]*)*),", re.IGNORECASE)
_EQUIVALENT_EXTENSIONS = {"jpeg": "jpg", "qt": "mov"}
_KNOWN_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp", "gif", "mp4", "mov", "qt", "webm"})
_SLICE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class IngestedMedia:
    """One stored asset, as ingest found it. ``thumbnail_key`` holds a JPEG (poster for video)."""

    asset_id: str
    key: str
    content_type: str
    kind: MediaKind
    size_bytes: int
    sha256: str
    width: int
    height: int
    duration_s: float | None
    codec: str | None
    fps: float | None
    frame_count: int | None
    thumbnail_key: str
    source: IngestSource
    source_url: str | None


class Ingestor:
    """Brings outside media into the store, safely; see the module docstring.

    ``http_client`` should be dedicated to ingest: no proxy (``trust_env=False``), no default
    auth headers (they would be sent to whatever URL is ingested). Its redirect setting is
    ignored: redirects are followed here, each hop vetted by the URL guard. ``probe_gate``
    bounds the probes' concurrency and decode memory (default: one of the settings' size, for
    this ingestor alone; ingestors of one process should share one).
    """

    def __init__(
        self,
        store: MediaStore,
        settings: IngestSettings,
        http_client: httpx.AsyncClient,
        *,
        resolver: Resolver | None = None,
        temp_dir: Path | None = None,
        probe_gate: ProbeGate | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._store = store
        self._tracing = tracing or Tracing.off()
        self._settings = settings
        self._http = http_client
        self._guard = UrlGuard(settings.allowed_hosts, resolver=resolver)
        self._temp_dir = temp_dir
        self._probe_gate = probe_gate or ProbeGate(
            settings.probe_concurrency, settings.probe_memory_mb * 1024 * 1024
        )

    async def ingest_url(
        self,
        url: str,
        *,
        key: str | None = None,
        asset_id: str | None = None,
        source: Literal["url", "provider"] = "url",
    ) -> IngestedMedia:
        """Download ``url`` (guarded, capped, timed) and store it."""
        trail = FetchTrail()

        async def fill(spool: Spool) -> None:
            await download(self._http, self._guard, url, spool, self._settings, trail)

        try:
            return await self._ingest(
                fill, key=key, asset_id=asset_id, source=source, source_url=url
            )
        except (FetchFailed, InvalidInput) as exc:
            internal = trail.internal
            if source == "provider" or internal is None:
                raise
            raise _internal_refusal(internal, exc) from exc

    async def ingest_stream(
        self,
        chunks: AsyncIterable[bytes],
        *,
        key: str | None = None,
        asset_id: str | None = None,
        source: IngestSource = "upload",
    ) -> IngestedMedia:
        """Store an upload arriving as chunks; it is refused as soon as it passes the cap."""

        async def fill(spool: Spool) -> None:
            async for chunk in chunks:
                await spool.write(chunk)

        return await self._ingest(fill, key=key, asset_id=asset_id, source=source)

    async def ingest_bytes(
        self,
        data: bytes,
        *,
        key: str | None = None,
        asset_id: str | None = None,
        source: IngestSource = "upload",
    ) -> IngestedMedia:
        """Store media already in memory."""
        if len(data) > self._settings.max_bytes:
            raise _too_large(len(data), self._settings.max_bytes)
        return await self.ingest_stream(_slices(data), key=key, asset_id=asset_id, source=source)

    async def ingest_base64(
        self, data: str, *, key: str | None = None, asset_id: str | None = None
    ) -> IngestedMedia:
        """Store base64 media, bare or as a ``data:<type>;base64,...`` URI (its type is ignored)."""
        payload = _base64_payload(data)
        estimated = len(payload) * 3 // 4
        if estimated > self._settings.max_bytes + 2:
            raise _too_large(estimated, self._settings.max_bytes)
        if len(payload) > _SLICE_BYTES:
            decoded = await asyncio.to_thread(_decode_base64, payload)
        else:
            decoded = _decode_base64(payload)
        return await self.ingest_bytes(decoded, key=key, asset_id=asset_id, source="base64")

    async def discard(self, media: IngestedMedia) -> None:
        """Delete a stored asset and its thumbnail (idempotent)."""
        await self._store.delete(media.key)
        await self._store.delete(media.thumbnail_key)

    async def _ingest(
        self,
        fill: Callable[[Spool], Awaitable[None]],
        *,
        key: str | None,
        asset_id: str | None,
        source: IngestSource,
        source_url: str | None = None,
    ) -> IngestedMedia:
        asset_id = asset_id or new_asset_id()
        attributes = {"reelforge.asset_id": asset_id, "reelforge.source": source}
        with self._tracing.span("media.ingest", attributes=attributes) as span:
            media = await self._ingest_in_span(
                fill, key=key, asset_id=asset_id, source=source, source_url=source_url
            )
            span.set_attribute("reelforge.content_type", media.content_type)
            span.set_attribute("reelforge.size_bytes", media.size_bytes)
            return media

    async def _ingest_in_span(
        self,
        fill: Callable[[Spool], Awaitable[None]],
        *,
        key: str | None,
        asset_id: str,
        source: IngestSource,
        source_url: str | None,
    ) -> IngestedMedia:
        thumb_key = thumbnail_key(asset_id)
        if key is not None:
            validate_key(key)
        try:
            async with Spool(max_bytes=self._settings.max_bytes, temp_dir=self._temp_dir) as spool:
                await fill(spool)
                media_type = await spool.finish()
                target = key or asset_key(asset_id, media_type.extension)
                _check_key_extension(target, media_type)
                probe = await probe_media(
                    spool.path,
                    media_type,
                    max_image_pixels=self._settings.max_image_pixels,
                    thumbnail_px=self._settings.thumbnail_px,
                    gate=self._probe_gate,
                )
                await self._store_both(
                    spool.path, target, media_type, thumb_key, probe.thumbnail_jpeg
                )
                media = IngestedMedia(
                    asset_id=asset_id,
                    key=target,
                    content_type=media_type.content_type,
                    kind=media_type.kind,
                    size_bytes=spool.size,
                    sha256=spool.sha256,
                    width=probe.width,
                    height=probe.height,
                    duration_s=probe.duration_s,
                    codec=probe.codec,
                    fps=probe.fps,
                    frame_count=probe.frame_count,
                    thumbnail_key=thumb_key,
                    source=source,
                    source_url=source_url,
                )
        except ReelforgeError as exc:
            _log.info("media.ingest_refused", source=source, code=exc.code, reason=exc.message)
            raise
        except OSError as exc:  # the temporary file: disk full, no permission
            raise StorageError(
                "Ingest could not write its temporary file.", details={"reason": str(exc)[:200]}
            ) from exc
        _log.info(
            "media.ingested",
            asset_id=asset_id,
            stored_as=media.key,
            content_type=media.content_type,
            size_bytes=media.size_bytes,
            source=source,
        )
        return media

    async def _store_both(
        self, path: Path, key: str, media_type: MediaType, thumb_key: str, thumbnail: bytes
    ) -> None:
        try:
            await self._store.put_file(key, path, content_type=media_type.content_type)
            await self._store.put_bytes(thumb_key, thumbnail, content_type="image/jpeg")
        except BaseException:
            await asyncio.shield(self._remove_quietly(key, thumb_key))
            raise

    async def _remove_quietly(self, *keys: str) -> None:
        for key in keys:
            try:
                await self._store.delete(key)
            except ReelforgeError as exc:
                _log.warning("media.cleanup_failed", stored_as=key, code=exc.code)


def _internal_refusal(hop: VettedUrl, cause: ReelforgeError) -> FetchRejected:
    """The one answer for a caller's URL that failed at an allow-listed internal address."""
    where = f"[{hop.host}]:{hop.port}" if ":" in hop.host else f"{hop.host}:{hop.port}"
    _log.info("media.internal_fetch_refused", target=where, code=cause.code, reason=cause.message)
    return FetchRejected(
        f"Nothing could be ingested from {where!r}: it is an internal address, whose "
        "answers are not reported.",
        details={"host": hop.host, "port": hop.port},
    )


async def _slices(data: bytes) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), _SLICE_BYTES):
        yield bytes(view[start : start + _SLICE_BYTES])


def _too_large(size: int, max_bytes: int) -> MediaTooLarge:
    return MediaTooLarge(
        f"The media is {size} bytes; at most {max_bytes} are accepted.",
        details={"size": size, "max_bytes": max_bytes},
    )


def _base64_payload(data: str) -> str:
    text = data.strip()
    match = _DATA_URI.match(text)
    if match is not None:
        params = [p.strip().lower() for p in match.group("params").split(";") if p.strip()]
        if "base64" not in params:
            raise InvalidInput("Only base64 data: URIs are accepted.")
        text = text[match.end() :]
    elif text[:5].lower() == "data:":
        raise InvalidInput("The data: URI is malformed.")
    return "".join(text.split())


def _decode_base64(payload: str) -> bytes:
    if "-" in payload or "_" in payload:
        payload = payload.replace("-", "+").replace("_", "/")
    payload += "=" * (-len(payload) % 4)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("The base64 data is not valid.") from exc


def _check_key_extension(key: str, media_type: MediaType) -> None:
    name = key.rsplit("/", 1)[-1]
    if "." not in name:
        return
    ext = name.rsplit(".", 1)[-1].lower()
    if ext not in _KNOWN_EXTENSIONS:
        return
    if _EQUIVALENT_EXTENSIONS.get(ext, ext) != media_type.extension:
        raise UnsupportedMediaType(
            f"The content is {media_type.content_type}, which cannot be stored as {key!r}.",
            details={"key": key, "content_type": media_type.content_type},
        )
