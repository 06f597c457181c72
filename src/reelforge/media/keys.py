"""Object keys of the media store: one validated vocabulary for every feature.

A key is a relative, slash-separated path of segments made of ``A-Z a-z 0-9 . _ -``; no empty,
``.`` or ``..`` segment, no leading or trailing slash. The same key works on a local folder, on
S3 and in a public URL without escaping.
"""

from __future__ import annotations

import re
import uuid

from reelforge.errors import InvalidInput

__all__ = [
    "MAX_KEY_LENGTH",
    "asset_key",
    "cutscene_asset_key",
    "join_key",
    "new_asset_id",
    "segment_key",
    "thumbnail_key",
    "validate_key",
]

MAX_KEY_LENGTH = 1024
_SEGMENT = re.compile(r"[A-Za-z0-9._-]{1,255}")
_EXTENSION = re.compile(r"[a-z0-9]{1,10}")


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe store key, else raise :class:`InvalidInput`."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput("A media key must be 1 to 1024 characters long.", details={"key": key})
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment) or segment in {".", ".."}:
            raise InvalidInput(
                "A media key is slash-separated segments of letters, digits, '.', '_' and '-' "
                "(no empty, '.' or '..' segment, no leading or trailing '/').",
                details={"key": key},
            )
    return key


def join_key(*segments: str | int) -> str:
    """Join segments into a validated key (``join_key("a", 1, "b.png") == "a/1/b.png"``)."""
    return validate_key("/".join(str(s) for s in segments))


def _segment(value: str | int, what: str) -> str:
    text = str(value)
    if "/" in text or not _SEGMENT.fullmatch(text) or text in {".", ".."}:
        raise InvalidInput(
            f"{what} must be letters, digits, '.', '_' or '-'.", details={what: text}
        )
    return text


def _extension(ext: str) -> str:
    normalized = ext.lower().lstrip(".")
    if not _EXTENSION.fullmatch(normalized):
        raise InvalidInput(
            "A file extension must be 1 to 10 letters or digits.", details={"ext": ext}
        )
    return normalized


def new_asset_id() -> str:
    """A fresh, unguessable asset id (32 hex characters)."""
    return uuid.uuid4().hex


def asset_key(asset_id: str, ext: str) -> str:
    """``assets/{asset_id}.{ext}``: the default home of an ingested asset."""
    return join_key("assets", f"{_segment(asset_id, 'asset_id')}.{_extension(ext)}")


def thumbnail_key(asset_id: str) -> str:
    """``thumbnails/{asset_id}.jpg``: the JPEG thumbnail (image) or poster frame (video)."""
    return join_key("thumbnails", f"{_segment(asset_id, 'asset_id')}.jpg")


def segment_key(project_id: str, episode_id: str, run_id: str, scene: int, shot: int) -> str:
    """The segments spec's file name in its project/episode directory, in a folder of its run:
    ``projects/{p}/{e}/segments/{run_id}/segment_{scene}_{shot}.mp4``. A later run of the same
    shot gets its own key, so the bytes behind a URL that was handed out never change."""
    if scene < 0 or shot < 0:
        raise InvalidInput("Scene and shot numbers cannot be negative.")
    return join_key(
        "projects",
        _segment(project_id, "project_id"),
        _segment(episode_id, "episode_id"),
        "segments",
        _segment(run_id, "run_id"),
        f"segment_{scene}_{shot}.mp4",
    )


def cutscene_asset_key(campaign_id: str, asset_id: str, ext: str) -> str:
    """The cutscenes spec's ``{campaign_id}/{asset_id}.{png|mp4}`` (under the store root)."""
    return join_key(
        _segment(campaign_id, "campaign_id"),
        f"{_segment(asset_id, 'asset_id')}.{_extension(ext)}",
    )
