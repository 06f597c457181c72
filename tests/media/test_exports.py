from __future__ import annotations

import reelforge.media as media


def test_public_api() -> None:
    assert media.__all__ == sorted(media.__all__)
    for name in media.__all__:
        assert getattr(media, name) is not None
    assert {
        "Ingestor",
        "IngestedMedia",
        "MediaStore",
        "ObjectMediaStore",
        "UrlGuard",
        "build_media_store",
        "asset_key",
        "thumbnail_key",
        "segment_key",
    } <= set(media.__all__)
