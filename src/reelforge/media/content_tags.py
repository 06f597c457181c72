"""ETags for stored objects, made from their content: the sha256 of the bytes, never file facts.

A store's own etag can give away how it keeps files: a local folder's (obstore's) is
``inode-mtime-size``. The tag served instead is the object's sha256, which says nothing about
the machine. For an asset's object it is the asset's recorded ``sha256`` (no byte is read);
otherwise (thumbnails, posters, anything else) the object is hashed once and the result kept,
keyed by the store's own etag and size, so that a changed object is hashed again. Objects over
``max_hash_bytes`` that are not assets get no ETag at all rather than a weaker one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from reelforge.catalog import Catalog
from reelforge.errors import NotFound
from reelforge.media.store import MediaStore, ObjectInfo

__all__ = ["ContentTags", "KnownSha256", "asset_sha256", "etag_matches"]

KnownSha256 = Callable[[str, int], Awaitable[str | None]]
"""``(key, size) -> sha256``: the recorded hash of the object at ``key``, if it is known to be
the one of that size (an asset's row), else None."""

_MiB = 1024 * 1024


class ContentTags:
    """Strong ETags (``"<sha256 hex>"``) for the objects of ``store``."""

    def __init__(
        self,
        store: MediaStore,
        known_sha256: KnownSha256,
        *,
        max_hash_bytes: int = 32 * _MiB,
        cache_size: int = 4096,
    ) -> None:
        self._store = store
        self._known = known_sha256
        self._max_hash_bytes = max_hash_bytes
        self._cache_size = cache_size
        self._hashed: OrderedDict[tuple[str, str | None, int], str] = OrderedDict()

    async def etag(self, info: ObjectInfo) -> str | None:
        """The quoted ETag of the object ``info`` describes, or None where none is offered."""
        digest = await self._known(info.key, info.size)
        if digest is None:
            digest = await self._hashed_digest(info)
        return f'"{digest}"' if digest is not None else None

    async def _hashed_digest(self, info: ObjectInfo) -> str | None:
        # The store's own etag changes with the object (a local file's inode and mtime, S3's
        # content hash), so it is a sound cache key even though it is never served.
        cache_key = (info.key, info.etag, info.size)
        cached = self._hashed.get(cache_key)
        if cached is not None:
            self._hashed.move_to_end(cache_key)
            return cached
        if info.size > self._max_hash_bytes:
            return None
        digest = hashlib.sha256()
        async for chunk in self._store.get_stream(info.key):
            if len(chunk) > 256 * 1024:
                await asyncio.to_thread(digest.update, chunk)
            else:
                digest.update(chunk)
        value = digest.hexdigest()
        self._hashed[cache_key] = value
        if len(self._hashed) > self._cache_size:
            self._hashed.popitem(last=False)
        return value


def asset_sha256(catalog: Catalog) -> KnownSha256:
    """The :data:`KnownSha256` of the catalog's assets."""

    async def known(key: str, size: int) -> str | None:
        try:
            asset = await catalog.assets.get_by_key(key)
        except NotFound:
            return None
        # A size that differs: the object is being replaced; hash what is there instead.
        return asset.sha256 if asset.size_bytes == size else None

    return known


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110 13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == wanted
        for candidate in if_none_match.split(",")
        if candidate.strip()
    )
