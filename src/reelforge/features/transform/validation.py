"""Everything a transform request must pass before anything is spent, in the spec's words.

Order: the fields (:func:`parse_request`), the media as it streams in (:class:`MediaGate`: type
by content, the size limit of that type, enforced while the bytes arrive), then, once the image
is stored and decoded, the face check (:func:`check_face`). Each refusal is a typed error with
the spec's code and user message; ``details.reason`` says which rule failed.

The spec has one validation code, ``INVALID_INPUT`` (HTTP 400), for the media, the text and
missing fields alike. The face check has no spec code; its errors are ours:

    InvalidInput                INVALID_INPUT            400  (spec)
    ├── NoFaceFound             NO_FACE_DETECTED         422  (imaging/faces.py)
    ├── SeveralFacesFound       MULTIPLE_FACES_DETECTED  422  (defined here)
    └── FaceTooSmall            FACE_TOO_SMALL           422  (defined here)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from PIL import Image

from reelforge.budget.scopes import BudgetScope
from reelforge.errors import InvalidInput, UnsupportedMediaType
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.schemas import (
    ASPECT_RATIOS,
    MAX_OUTPUT_COUNT,
    STYLE_PRESETS,
    TransformRequest,
)
from reelforge.imaging.faces import DetectedFace, FaceAnalyzer, NoFaceFound
from reelforge.media.sniff import SNIFF_BYTES, MediaType, sniff
from reelforge.validation import refuse_unstorable, text_problem, unstorable_values

__all__ = [
    "ACCEPTED_TYPES",
    "FORMAT_MESSAGE",
    "MEDIA_MESSAGE",
    "TEXT_MESSAGE",
    "TEXT_MESSAGES",
    "FaceTooSmall",
    "MediaGate",
    "SeveralFacesFound",
    "check_face",
    "check_values",
    "media_error",
    "missing_field",
    "parse_request",
    "unsupported_format",
]

MEDIA_MESSAGE = (
    "Please upload a valid image or video file (JPG, PNG, MP4, or MOV, max 16MB for images, "
    "100MB for videos)"
)
FORMAT_MESSAGE = "Unsupported file format. Please use JPG, PNG, MP4, or MOV."
TEXT_MESSAGE = "Please provide a scene or style description (50-500 words recommended)"
NO_FACE_MESSAGE = "No face was found. Please upload a clear, front-facing photo of one person."
SEVERAL_FACES_MESSAGE = "More than one face was found. Please upload a photo of one person."
SMALL_FACE_MESSAGE = (
    "The face is too small to transform. Please upload a closer, front-facing photo."
)

#: The spec's text message speaks for these fields (``prompt``: ``/dev/run``'s verbatim one).
TEXT_MESSAGES = {"scene_description": TEXT_MESSAGE, "prompt": TEXT_MESSAGE}
#: JPG, PNG, MP4 and MOV, by content (sniffed magic bytes), never by name.
ACCEPTED_TYPES = frozenset({"image/jpeg", "image/png", "video/mp4", "video/quicktime"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
_MiB = 1024 * 1024


class SeveralFacesFound(InvalidInput):
    """More than one face big enough to be the subject: whom to transform is ambiguous."""

    code = "MULTIPLE_FACES_DETECTED"
    http_status = 422


class FaceTooSmall(InvalidInput):
    """The face is too small in the picture for a transform to keep it recognisable."""

    code = "FACE_TOO_SMALL"
    http_status = 422


def media_error(reason: str, **details: Any) -> InvalidInput:
    """The spec's media upload error (too large, empty, undecodable)."""
    return InvalidInput(MEDIA_MESSAGE, details={"field": "media", "reason": reason, **details})


def unsupported_format(**details: Any) -> InvalidInput:
    """The spec's unsupported format error: the content is not JPG, PNG, MP4 or MOV."""
    return InvalidInput(
        FORMAT_MESSAGE, details={"field": "media", "reason": "unsupported_format", **details}
    )


def missing_field(field: str, reason: str) -> InvalidInput:
    """The spec's ``Missing required field: <field>``."""
    return InvalidInput(
        f"Missing required field: {field}", details={"field": field, "reason": reason}
    )


def _limit_text(limit: int) -> str:
    return f"{limit // _MiB}MB" if limit % _MiB == 0 else f"{limit} bytes"


class MediaGate:
    """Counts and sniffs an incoming file as its bytes arrive, and refuses as soon as it knows.

    Until the type is known the larger (video) limit applies; from the first
    :data:`~reelforge.media.sniff.SNIFF_BYTES` bytes on, the limit of the sniffed type. Feed every
    chunk *before* keeping it, so nothing past the limit is ever stored.
    """

    def __init__(self, settings: TransformSettings) -> None:
        self._image_max = settings.image_max_bytes
        self._video_max = settings.video_max_bytes
        self._head = b""
        self.size = 0
        self.media_type: MediaType | None = None

    @property
    def limit(self) -> int:
        if self.media_type is None:
            return max(self._image_max, self._video_max)
        return self._image_max if self.media_type.kind == "image" else self._video_max

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self.media_type is None:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._decide()
        self.size += len(chunk)
        self.check_size(self.size)

    def finish(self) -> MediaType:
        """The sniffed type of the complete file; refuses an empty one."""
        if self.size == 0:
            raise media_error("empty")
        if self.media_type is None:
            self._decide()
        self.check_size(self.size)
        assert self.media_type is not None
        return self.media_type

    def check_size(self, size: int) -> None:
        """Refuse a file of ``size`` bytes beyond the limit (of its type, once known): a file
        being fed, or one whose size is known before its bytes (base64)."""
        if size > self.limit:
            kind = self.media_type.kind if self.media_type is not None else "media"
            raise media_error(
                "too_large",
                kind=kind,
                max_bytes=self.limit,
                limit=_limit_text(self.limit),
            )

    def _decide(self) -> None:
        try:
            found = sniff(self._head)
        except UnsupportedMediaType:
            raise unsupported_format() from None
        if found.content_type not in ACCEPTED_TYPES:
            raise unsupported_format(content_type=found.content_type)
        self.media_type = found


def check_values(fields: Any) -> None:
    """Refuse text no field may hold (a NUL, a lone surrogate) and numbers no column holds,
    anywhere in a request's fields; in a description, with the spec's text message."""
    refuse_unstorable(unstorable_values(fields), messages=TEXT_MESSAGES)


def parse_request(
    fields: Mapping[str, Any],
    settings: TransformSettings,
    *,
    description_field: str = "scene_description",
    verbatim_prompt: bool = False,
) -> TransformRequest:
    """The request's fields checked in the spec's words (the media is checked separately)."""
    description = _description(fields.get(description_field), description_field, settings)
    return TransformRequest(
        scene_description=description,
        style_preset=_style_preset(fields.get("style_preset")),
        output_count=_output_count(fields.get("output_count")),
        aspect_ratio=_aspect_ratio(fields.get("aspect_ratio")),
        keep_upload=_flag(fields.get("keep_upload"), "keep_upload", settings.keep_uploads),
        dry_run=_flag(fields.get("dry_run"), "dry_run", False),
        project_id=_project_id(fields.get("project_id")),
        verbatim_prompt=verbatim_prompt,
    )


def check_description(value: Any, field: str, settings: TransformSettings) -> str:
    """A scene description, trimmed, of the allowed length (raises the spec's errors)."""
    return _description(value, field, settings)


def _description(value: Any, field: str, settings: TransformSettings) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise missing_field(field, "Scene description is required and must be non-empty")
    if not isinstance(value, str):
        raise InvalidInput(
            TEXT_MESSAGE, details={"field": field, "reason": "Scene description must be a string"}
        )
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput(
            TEXT_MESSAGE, details={"field": field, "reason": f"Scene description {problem}"}
        )
    text = value.strip()
    low, high = settings.description_min_chars, settings.description_max_chars
    if not low <= len(text) <= high:
        raise InvalidInput(
            TEXT_MESSAGE,
            details={
                "field": field,
                "reason": f"Scene description must be {low}-{high} characters after trimming",
                "length": len(text),
                "min": low,
                "max": high,
            },
        )
    return text


def _style_preset(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    preset = value.strip().lower() if isinstance(value, str) else None
    if preset not in STYLE_PRESETS:
        raise InvalidInput(
            f"style_preset must be one of: {', '.join(STYLE_PRESETS)}.",
            details={"field": "style_preset", "allowed": list(STYLE_PRESETS)},
        )
    return preset


def _output_count(value: Any) -> int:
    if value is None or value == "":
        return 1
    count: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*\d{1,2}\s*", value)
    ):
        count = int(value)
    if count is None or not 1 <= count <= MAX_OUTPUT_COUNT:
        raise InvalidInput(
            f"output_count must be a whole number from 1 to {MAX_OUTPUT_COUNT}.",
            details={"field": "output_count", "min": 1, "max": MAX_OUTPUT_COUNT},
        )
    return count


def _aspect_ratio(value: Any) -> str:
    if value is None or value == "":
        return "original"
    ratio = value.strip().lower() if isinstance(value, str) else None
    if ratio not in ASPECT_RATIOS:
        raise InvalidInput(
            f"aspect_ratio must be one of: {', '.join(ASPECT_RATIOS)}.",
            details={"field": "aspect_ratio", "allowed": list(ASPECT_RATIOS)},
        )
    return ratio


def _flag(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False if text else default
    raise InvalidInput(f"{field} must be true or false.", details={"field": field})


def _project_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("project_id must be a string.", details={"field": "project_id"})
    return BudgetScope("project", value.strip()).id


def check_face(
    analyzer: FaceAnalyzer, image: Image.Image, settings: TransformSettings
) -> DetectedFace:
    """The one face to transform; refuses no face, several faces, or one too small.

    A second face counts only if it is big enough to be the subject itself (it would pass the
    size rule), so a small face in the background does not refuse a portrait. CPU-bound: call
    it in a worker thread.
    """
    faces = analyzer.detect(image)
    if not faces:
        raise NoFaceFound(NO_FACE_MESSAGE, details={"field": "media", "reason": "no_face"})
    subjects = [face for face in faces if _big_enough(face, settings)]
    if len(subjects) > 1:
        raise SeveralFacesFound(
            SEVERAL_FACES_MESSAGE,
            details={"field": "media", "reason": "several_faces", "faces": len(subjects)},
        )
    if not subjects:
        largest = faces[0]
        raise FaceTooSmall(
            SMALL_FACE_MESSAGE,
            details={
                "field": "media",
                "reason": "face_too_small",
                "face_height_px": largest.box.height,
                "face_height_ratio": round(largest.height_ratio, 3),
                "min_face_px": settings.min_face_px,
                "min_face_height_ratio": settings.min_face_height_ratio,
            },
        )
    return subjects[0]


def _big_enough(face: DetectedFace, settings: TransformSettings) -> bool:
    return (
        face.box.height >= settings.min_face_px
        and face.height_ratio >= settings.min_face_height_ratio
    )
