"""The temporary file every ingest goes through: counted against the cap, hashed, sniffed early.

Incoming chunks are gathered in batches of about 1 MiB; a full batch is joined, hashed and
written in a worker thread while the next one fills, so receiving overlaps with disk
and hashing. At most two batches are held at once. The file is removed when the ``async with``
block ends, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from reelforge.errors import MediaTooLarge
from reelforge.media.sniff import SNIFF_BYTES, MediaType, sniff

__all__ = ["Spool"]

_BUFFER_BYTES = 1024 * 1024


class Spool:
    """A temporary file receiving one incoming media file.

    ``write`` raises MediaTooLarge as soon as more than ``max_bytes`` arrive, and
    UnsupportedMediaType as soon as the first bytes show an unsupported type, so a refused
    download stops early. ``finish`` flushes and returns the sniffed type.
    """

    def __init__(self, *, max_bytes: int, temp_dir: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self._temp_dir = temp_dir
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = b""
        self._media_type: MediaType | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._pending: asyncio.Task[None] | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            raise RuntimeError("the spool is not open")
        return self._path

    @property
    def size(self) -> int:
        return self._size

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    async def __aenter__(self) -> Self:
        self._file = await asyncio.to_thread(self._create)
        return self

    def _create(self) -> IO[bytes]:
        fd, name = tempfile.mkstemp(prefix="reelforge-ingest-", suffix=".part", dir=self._temp_dir)
        self._path = Path(name)
        return os.fdopen(fd, "wb")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                # A worker thread cannot be interrupted: let it finish before closing its file.
                with contextlib.suppress(Exception):
                    await asyncio.shield(pending)
        finally:
            self._remove()  # close and unlink: quick, and must happen even if cancelled again

    def _remove(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)

    async def write(self, chunk: bytes) -> None:
        """Append ``chunk``; refuse as soon as the cap is passed or the type is known bad."""
        if not chunk:
            return
        self._size += len(chunk)
        if self._size > self.max_bytes:
            raise MediaTooLarge(
                f"The media is larger than the {self.max_bytes} bytes accepted.",
                details={"max_bytes": self.max_bytes},
            )
        if self._media_type is None and len(self._head) < SNIFF_BYTES:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._media_type = sniff(self._head)
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= _BUFFER_BYTES:
            await self._flush()

    async def finish(self) -> MediaType:
        """Write out what is buffered, close the file, and return the sniffed type.

        After this, :attr:`path` holds the whole file and :attr:`sha256` its digest.
        """
        if self._media_type is None:
            self._media_type = sniff(self._head)
        await self._flush()
        await self._wait_for_disk()
        if self._file is not None:
            await asyncio.to_thread(self._file.close)  # complete on disk for the readers
        return self._media_type

    async def _wait_for_disk(self) -> None:
        # Shielded, and forgotten only once done: if we are cancelled meanwhile, __aexit__
        # still waits for the thread before closing the file under it.
        if self._pending is not None:
            await asyncio.shield(self._pending)
            self._pending = None

    async def _flush(self) -> None:
        await self._wait_for_disk()
        if not self._buffer:
            return
        data, self._buffer, self._buffered = self._buffer, [], 0  # hand over, no copy
        self._pending = asyncio.create_task(asyncio.to_thread(self._append, data))

    def _append(self, chunks: list[bytes]) -> None:
        if self._file is None:
            raise RuntimeError("the spool is not open")
        # One joined buffer, so one hash call and one write: every C call that releases the GIL
        # must win it back from the busy receiving thread, and per-chunk calls made the worker
        # wait far longer than the copy costs.
        data = b"".join(chunks)
        self._hash.update(data)
        self._file.write(data)
