"""Incoming media, checked while it streams: a multipart form, a file, or base64.

``POST /generate/cinematic`` is read chunk by chunk through python-multipart's push parser;
nothing is buffered beyond one chunk. The ``media`` part goes through a :class:`MediaSink`: each
chunk is counted and (from the first 256 bytes) sniffed by the :class:`MediaGate` *before* it
is written to a temporary file, so the moment a file passes the limit of its type, or shows a
type that is not JPG, PNG, MP4 or MOV, reading stops and the request is answered: the rest of
the body is never read. A declared ``Content-Length`` beyond any acceptable form is refused
before reading at all. Text fields are capped at 64 KiB each, and a field checker may refuse a
field (the scene description) as soon as it has arrived.

The temporary file lives as long as the ``async with`` block and is removed on the way out.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from reelforge.errors import InvalidInput
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.validation import (
    MEDIA_MESSAGE,
    TEXT_MESSAGE,
    MediaGate,
    media_error,
)
from reelforge.log import get_logger
from reelforge.media.sniff import SNIFF_BYTES, MediaType
from reelforge.media.spool import Spool

__all__ = [
    "FIELD_MAX_BYTES",
    "FORM_OVERHEAD_BYTES",
    "MediaSink",
    "MediaUrl",
    "ReceivedForm",
    "StagedMedia",
    "body_limit",
    "decode_base64_media",
    "form_limit",
    "json_limit",
    "receive_form",
    "stage_chunks",
]

log = get_logger(__name__)

FIELD_MAX_BYTES = 64 * 1024
#: Room for the form's boundaries, headers and text fields beyond the largest media file.
FORM_OVERHEAD_BYTES = 1024 * 1024
_MAX_PARTS = 16
_DATA_URI = re.compile(r"^data:[^,]*?;base64,", re.IGNORECASE)
# Base64 characters that hold the first SNIFF_BYTES bytes (a whole number of 4-character groups).
_HEAD_CHARS = -(-SNIFF_BYTES // 3) * 4

FieldCheck = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class MediaUrl:
    """Media to fetch through safe ingest (guarded, capped); ``/dev/run`` and MCP take URLs."""

    url: str


@dataclass(frozen=True, slots=True)
class StagedMedia:
    """A complete, checked media file in a temporary file (gone when its block ends)."""

    path: Path
    media_type: MediaType
    size: int


@dataclass(slots=True)
class ReceivedForm:
    """The text fields and the media file of a multipart form."""

    fields: dict[str, str] = field(default_factory=dict)
    media: StagedMedia | None = None
    media_filename_given: bool = False
    body_bytes: int = 0


class MediaSink:
    """Gate first, then disk: a chunk past the limit or of a refused type is never written."""

    def __init__(self, settings: TransformSettings, stack: AsyncExitStack, temp_dir: Path) -> None:
        self.gate = MediaGate(settings)
        self._settings = settings
        self._stack = stack
        self._temp_dir = temp_dir
        self._spool: Spool | None = None

    async def write(self, chunk: bytes) -> None:
        self.gate.feed(chunk)
        if self._spool is None:
            spool = Spool(max_bytes=self.gate.limit, temp_dir=self._temp_dir)
            self._spool = await self._stack.enter_async_context(spool)
        await self._spool.write(chunk)

    async def finish(self) -> StagedMedia:
        media_type = self.gate.finish()
        assert self._spool is not None  # finish() refuses an empty file
        await self._spool.finish()
        return StagedMedia(path=self._spool.path, media_type=media_type, size=self.gate.size)


@asynccontextmanager
async def stage_chunks(
    chunks: AsyncIterable[bytes], settings: TransformSettings, temp_dir: Path
) -> AsyncIterator[StagedMedia]:
    """A media file arriving as chunks (a local file, decoded base64), checked as it comes."""
    async with AsyncExitStack() as stack:
        sink = MediaSink(settings, stack, temp_dir)
        async for chunk in chunks:
            await sink.write(chunk)
        yield await sink.finish()


def decode_base64_media(text: str, settings: TransformSettings) -> bytes:
    """Bare base64 or a ``data:...;base64,`` URI, refused before decoding when too large: for
    any media, then, once its first bytes (decoded alone) tell its type, for that type."""
    payload = "".join(_DATA_URI.sub("", text.strip(), count=1).split())
    payload = payload.replace("-", "+").replace("_", "/")
    size = len(payload.rstrip("=")) * 3 // 4
    gate = MediaGate(settings)
    gate.check_size(size)
    gate.feed(_decoded(payload[:_HEAD_CHARS]))  # sniffs: a type not accepted is refused here
    gate.check_size(size)
    return _decoded(payload)


def _decoded(payload: str) -> bytes:
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise media_error("not_base64") from None


def form_limit(settings: TransformSettings) -> int:
    """The largest multipart form: the largest file and room for the rest."""
    return max(settings.image_max_bytes, settings.video_max_bytes) + FORM_OVERHEAD_BYTES


def json_limit(settings: TransformSettings) -> int:
    """The largest JSON body: the largest file as base64, and room for the rest (also what an
    MCP request carrying the media may be)."""
    return max(settings.image_max_bytes, settings.video_max_bytes) * 4 // 3 + FORM_OVERHEAD_BYTES


def body_limit(settings: TransformSettings) -> int:
    """The server's bound on a transform request's body (``reelforge.api.body_limit``): past
    both limits above, so the spec's own refusal, which comes at the limit while the body
    streams, is what a client sees."""
    return max(form_limit(settings), json_limit(settings)) + FORM_OVERHEAD_BYTES


@asynccontextmanager
async def receive_form(
    chunks: AsyncIterable[bytes],
    *,
    content_type: str,
    content_length: int | None,
    settings: TransformSettings,
    temp_dir: Path,
    check_field: FieldCheck | None = None,
) -> AsyncIterator[ReceivedForm]:
    """Read a multipart form as it streams (see the module docstring)."""
    boundary = _boundary(content_type)
    limit = form_limit(settings)
    if content_length is not None and content_length > limit:
        log.info("transform.upload_refused", reason="too_large", declared_bytes=content_length)
        raise media_error("too_large", max_bytes=limit - FORM_OVERHEAD_BYTES)
    async with AsyncExitStack() as stack:
        reader = _FormReader(boundary, settings, stack, temp_dir, check_field)
        try:
            async for chunk in chunks:
                await reader.feed(chunk, limit)
            reader.close()
        except InvalidInput as exc:
            log.info(
                "transform.upload_refused",
                reason=exc.details.get("reason", "invalid"),
                body_bytes=reader.form.body_bytes,
                media_bytes=reader.media_bytes,
            )
            raise
        yield reader.form


def _boundary(content_type: str) -> bytes:
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput(
            "Send multipart/form-data with a media file and a scene_description.",
            details={"reason": "not_multipart"},
        )
    return boundary


class _FormReader:
    """python-multipart's callbacks collect events; ``feed`` acts on them in order."""

    def __init__(
        self,
        boundary: bytes,
        settings: TransformSettings,
        stack: AsyncExitStack,
        temp_dir: Path,
        check_field: FieldCheck | None,
    ) -> None:
        self.form = ReceivedForm()
        self._settings = settings
        self._stack = stack
        self._temp_dir = temp_dir
        self._check_field = check_field
        self._events: list[tuple[str, bytes]] = []
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._parts = 0
        self._ended = False
        self._part: str | None = None
        self._text = bytearray()
        self._sink: MediaSink | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": lambda: self._events.append(("end", b"")),
                "on_end": self._on_end,
            },
        )

    @property
    def media_bytes(self) -> int:
        return self._sink.gate.size if self._sink is not None else 0

    async def feed(self, chunk: bytes, limit: int) -> None:
        self.form.body_bytes += len(chunk)
        if self.form.body_bytes > limit:
            raise media_error("too_large", max_bytes=limit - FORM_OVERHEAD_BYTES)
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            raise _malformed() from None
        events, self._events = self._events, []
        for kind, data in events:
            if kind == "part":
                await self._begin(data)
            elif kind == "data":
                await self._data(data)
            else:
                await self._end()

    def close(self) -> None:
        self._parser.finalize()
        if not self._ended:
            raise _malformed()

    # -- callbacks (synchronous, inside parser.write) ----------------------------------------

    def _on_part_begin(self) -> None:
        self._disposition = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _on_headers_finished(self) -> None:
        self._events.append(("part", self._disposition))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", bytes(data[start:end])))

    def _on_end(self) -> None:
        self._ended = True

    # -- events ------------------------------------------------------------------------------

    async def _begin(self, disposition: bytes) -> None:
        self._parts += 1
        if self._parts > _MAX_PARTS:
            raise InvalidInput(
                f"A form has at most {_MAX_PARTS} parts.", details={"reason": "too_many_parts"}
            )
        _, params = parse_options_header(disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self._part = name
        self._text.clear()
        if name == "media":
            if self._sink is not None:
                raise InvalidInput(
                    "Send one media file per request.",
                    details={"field": "media", "reason": "several_files"},
                )
            self._sink = MediaSink(self._settings, self._stack, self._temp_dir)
            self.form.media_filename_given = bool(params.get(b"filename"))

    async def _data(self, data: bytes) -> None:
        if self._part == "media":
            assert self._sink is not None
            await self._sink.write(data)
            return
        self._text += data
        if len(self._text) > FIELD_MAX_BYTES:
            raise _field_too_long(self._part or "")

    async def _end(self) -> None:
        name, self._part = self._part, None
        if name == "media":
            assert self._sink is not None
            if self._sink.gate.size > 0 or self.form.media_filename_given:
                self.form.media = await self._sink.finish()
            return
        if not name:
            return
        try:
            value = self._text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(
                f"The field {name} is not UTF-8 text.", details={"field": name}
            ) from None
        self.form.fields[name] = value
        if self._check_field is not None:
            self._check_field(name, value)


def _field_too_long(name: str) -> InvalidInput:
    if name == "scene_description":
        return InvalidInput(
            TEXT_MESSAGE, details={"field": name, "reason": "Scene description is too long"}
        )
    return InvalidInput(f"The field {name} is too long.", details={"field": name})


def _malformed() -> InvalidInput:
    return InvalidInput(MEDIA_MESSAGE, details={"field": "media", "reason": "malformed_multipart"})
