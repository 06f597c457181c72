"""Media: the store (local folder or S3-compatible), safe ingest, sniffing, probing, thumbnails.

Outside bytes enter the store only through :class:`Ingestor`; everything else reads and deletes
through the narrow :class:`MediaStore` interface, built from settings by
:func:`build_media_store`.
"""

from reelforge.media.ingest import IngestedMedia, Ingestor, IngestSource
from reelforge.media.keys import (
    asset_key,
    cutscene_asset_key,
    join_key,
    new_asset_id,
    segment_key,
    thumbnail_key,
    validate_key,
)
from reelforge.media.probe import MediaProbe, probe_media
from reelforge.media.sniff import MediaType, sniff
from reelforge.media.store import (
    EnvS3Credentials,
    MediaStore,
    ObjectInfo,
    ObjectMediaStore,
    build_media_store,
)
from reelforge.media.url_guard import Resolver, UrlGuard, VettedUrl, system_resolver

__all__ = [
    "EnvS3Credentials",
    "IngestSource",
    "IngestedMedia",
    "Ingestor",
    "MediaProbe",
    "MediaStore",
    "MediaType",
    "ObjectInfo",
    "ObjectMediaStore",
    "Resolver",
    "UrlGuard",
    "VettedUrl",
    "asset_key",
    "build_media_store",
    "cutscene_asset_key",
    "join_key",
    "new_asset_id",
    "probe_media",
    "segment_key",
    "sniff",
    "system_resolver",
    "thumbnail_key",
    "validate_key",
]
