"""The media store: bytes by key, on a local folder or any S3-compatible bucket (via obstore).

:class:`MediaStore` is the narrow interface the rest of Reelforge depends on;
:class:`ObjectMediaStore` implements it on any obstore store. Writes stream: a file or an async
iterator of chunks is sent in parts (multipart on S3), so a large video never sits whole in
memory; at most about ``part_size * max_concurrency`` bytes are in flight. obstore's errors become
:class:`~reelforge.errors.NotFound` and :class:`~reelforge.errors.StorageError` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol

import obstore
from obstore.store import LocalStore, S3Store

from reelforge.errors import (
    MediaTooLarge,
    MissingCredential,
    NotFound,
    ReelforgeError,
    StorageError,
)
from reelforge.media.keys import validate_key

if TYPE_CHECKING:
    from obstore import GetOptions
    from obstore.store import ObjectStore, S3Config, S3Credential

    from reelforge.settings import S3Settings, Settings

__all__ = [
    "EnvS3Credentials",
    "MediaStore",
    "ObjectInfo",
    "ObjectMediaStore",
    "build_media_store",
]

_MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store knows about one object without reading it."""

    key: str
    size: int
    last_modified: datetime
    etag: str | None


class MediaStore(Protocol):
    """Bytes by key. Keys follow :mod:`reelforge.media.keys`; every method validates them.

    Only :class:`~reelforge.media.ingest.Ingestor` should write bytes that came from outside.
    """

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> None:
        """Store the chunks under ``key`` atomically (multipart where the backend has it)."""
        ...

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        """Store a local file under ``key``, reading it in parts."""
        ...

    async def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Store a small object (a thumbnail, a manifest) under ``key``."""
        ...

    def get_stream(
        self, key: str, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """Read an object (or ``length`` bytes of it from ``start``) as an async stream of
        chunks; raises NotFound on first iteration. Only the asked-for bytes are read."""
        ...

    async def get_bytes(self, key: str, *, max_bytes: int = 32 * _MiB) -> bytes:
        """Read a small object whole; refuses (MediaTooLarge) one larger than ``max_bytes``."""
        ...

    async def head(self, key: str) -> ObjectInfo:
        """Size, modification time and etag of an object; NotFound if absent."""
        ...

    async def size(self, key: str) -> int:
        """Size in bytes of an object; NotFound if absent."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Delete an object; deleting an absent object is not an error."""
        ...

    def public_url(self, key: str) -> str:
        """The public URL of ``key`` under the configured public base URL."""
        ...


class ObjectMediaStore:
    """A :class:`MediaStore` on any obstore store (``LocalStore``, ``S3Store``, ``MemoryStore``).

    ``supports_attributes`` is False for a local folder, which cannot keep a Content-Type. On a
    ``LocalStore``, ``put_file`` copies inside the kernel (``copy_file_range``/``sendfile``) to a
    staging file that is then renamed into place: the same atomicity as obstore's own local
    writes, without passing every byte through user-space buffers.
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        public_base_url: str,
        supports_attributes: bool = True,
        part_size: int = 5 * _MiB,
        max_concurrency: int = 3,
        read_chunk_size: int = 1 * _MiB,
    ) -> None:
        if part_size < 5 * _MiB:
            raise ValueError("part_size must be at least 5 MiB (the S3 minimum part size)")
        self._store = store
        self._public_base_url = public_base_url.rstrip("/")
        self._supports_attributes = supports_attributes
        self._part_size = part_size
        self._max_concurrency = max_concurrency
        self._read_chunk_size = read_chunk_size
        self._local_root = store.prefix if isinstance(store, LocalStore) else None

    @classmethod
    def local(cls, root: Path, *, public_base_url: str) -> ObjectMediaStore:
        """A store in the folder ``root`` (created if missing)."""
        root.mkdir(parents=True, exist_ok=True)
        store = LocalStore(root, mkdir=True, automatic_cleanup=True)
        return cls(store, public_base_url=public_base_url, supports_attributes=False)

    @classmethod
    def s3(cls, settings: S3Settings, *, public_base_url: str) -> ObjectMediaStore:
        """A store in an S3-compatible bucket; keys come from the variables ``settings`` names."""
        credentials = EnvS3Credentials(settings.access_key_env, settings.secret_key_env)
        credentials()  # fail now, with the variable's name, rather than on first upload
        config: S3Config = {"region": settings.region}
        if settings.endpoint:
            config["endpoint"] = settings.endpoint
        store = S3Store(
            settings.bucket,
            config=config,
            client_options={
                "allow_http": settings.allow_http,
                "connect_timeout": timedelta(seconds=10),
                # A single streamed GET must outlive a slow reader of a large video.
                "timeout": timedelta(minutes=30),
            },
            credential_provider=credentials,
        )
        return cls(store, public_base_url=public_base_url)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> None:
        validate_key(key)
        source_errors: list[BaseException] = []

        async def watched() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    yield chunk
            except BaseException as exc:
                source_errors.append(exc)
                raise

        try:
            await obstore.put_async(
                self._store,
                key,
                watched(),
                attributes=self._attributes(content_type),
                chunk_size=self._part_size,
                max_concurrency=self._max_concurrency,
            )
        except Exception as exc:
            if source_errors:
                raise source_errors[0] from None
            _raise_translated(exc, "put", key)

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        validate_key(key)
        if self._local_root is not None:
            copy = asyncio.ensure_future(
                asyncio.to_thread(_copy_into, self._local_root, key, Path(path))
            )
            try:
                await asyncio.shield(copy)
            except asyncio.CancelledError:
                # The thread cannot be stopped: let the file land, so that the caller's
                # cleanup after the cancel finds it and removes it.
                with contextlib.suppress(Exception):
                    await copy
                raise
            except OSError as exc:
                _raise_translated(exc, "put", key)
            return
        try:
            await obstore.put_async(
                self._store,
                key,
                Path(path),
                attributes=self._attributes(content_type),
                chunk_size=self._part_size,
                max_concurrency=self._max_concurrency,
            )
        except Exception as exc:
            _raise_translated(exc, "put", key)

    async def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        validate_key(key)
        try:
            await obstore.put_async(
                self._store,
                key,
                data,
                attributes=self._attributes(content_type),
                use_multipart=False,
            )
        except Exception as exc:
            _raise_translated(exc, "put", key)

    async def get_stream(
        self, key: str, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        validate_key(key)
        if start < 0 or (length is not None and length < 0):
            raise ValueError("start and length must not be negative")
        if length == 0:
            return
        options: GetOptions = {}
        if length is not None:
            options["range"] = (start, start + length)
        elif start:
            options["range"] = {"offset": start}
        try:
            result = await obstore.get_async(self._store, key, options=options)
            stream = result.stream(min_chunk_size=self._read_chunk_size)
        except Exception as exc:
            _raise_translated(exc, "get", key)
        while True:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                return
            except Exception as exc:
                _raise_translated(exc, "get", key)
            yield chunk

    async def get_bytes(self, key: str, *, max_bytes: int = 32 * _MiB) -> bytes:
        validate_key(key)
        try:
            result = await obstore.get_async(self._store, key)
            size = result.meta["size"]
            if size > max_bytes:
                raise MediaTooLarge(
                    f"Object {key!r} is {size} bytes; get_bytes reads at most {max_bytes}.",
                    details={"key": key, "size": size, "max_bytes": max_bytes},
                )
            return bytes(await result.bytes_async())
        except ReelforgeError:
            raise
        except Exception as exc:
            _raise_translated(exc, "get", key)

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        try:
            meta = await obstore.head_async(self._store, key)
        except Exception as exc:
            _raise_translated(exc, "head", key)
        return ObjectInfo(
            key=key, size=meta["size"], last_modified=meta["last_modified"], etag=meta["e_tag"]
        )

    async def size(self, key: str) -> int:
        return (await self.head(key)).size

    async def exists(self, key: str) -> bool:
        try:
            await self.head(key)
        except NotFound:
            return False
        return True

    async def delete(self, key: str) -> None:
        validate_key(key)
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            return
        except Exception as exc:
            _raise_translated(exc, "delete", key)

    def public_url(self, key: str) -> str:
        return f"{self._public_base_url}/{validate_key(key)}"

    def _attributes(self, content_type: str | None) -> dict[str, str] | None:
        if content_type is None or not self._supports_attributes:
            return None
        return {"Content-Type": content_type}


class EnvS3Credentials:
    """obstore credential provider reading the named variables at each refresh (never kept).

    Credentials are re-read every five minutes, so rotating them in the environment works.
    """

    def __init__(self, access_key_env: str, secret_key_env: str) -> None:
        self.access_key_env = access_key_env
        self.secret_key_env = secret_key_env

    def __call__(self) -> S3Credential:
        access_key = os.environ.get(self.access_key_env)
        if not access_key:
            raise MissingCredential("s3 store", self.access_key_env)
        secret_key = os.environ.get(self.secret_key_env)
        if not secret_key:
            raise MissingCredential("s3 store", self.secret_key_env)
        return {
            "access_key_id": access_key,
            "secret_access_key": secret_key,
            "token": None,
            "expires_at": datetime.now(UTC) + timedelta(minutes=5),
        }

    def __repr__(self) -> str:
        return f"EnvS3Credentials({self.access_key_env!r}, {self.secret_key_env!r})"


def build_media_store(settings: Settings) -> MediaStore:
    """The store ``settings.store`` describes, with ``settings.public_base_url`` for public URLs."""
    if settings.store.kind == "s3":
        return ObjectMediaStore.s3(settings.store.s3, public_base_url=settings.public_base_url)
    return ObjectMediaStore.local(settings.media_root, public_base_url=settings.public_base_url)


def _copy_into(root: Path, key: str, source: Path) -> None:
    target = root / key
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}#{uuid.uuid4().hex}.part")
    try:
        try:
            # Ingest spools on the store's disk (ingest.temp_dir): a hard link stores the file
            # without copying it. Across filesystems, or where links are refused, copy.
            os.link(source, staging)
        except OSError:
            shutil.copyfile(source, staging)
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def _raise_translated(exc: Exception, operation: str, key: str) -> NoReturn:
    if isinstance(exc, ReelforgeError):
        raise exc
    if isinstance(exc, FileNotFoundError) and operation in {"get", "head"}:
        raise NotFound(f"No media stored under {key!r}.", details={"key": key}) from exc
    raise StorageError(
        f"The media store could not {operation} {key!r}.",
        details={"key": key, "operation": operation, "reason": _first_line(exc)},
    ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
