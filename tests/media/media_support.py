"""Helpers of the media tests: real media files, a loopback HTTP server, a recording transport.

Imported as ``media.media_support`` (pytest puts ``tests/`` on ``sys.path``, as for ``fixtures``).
``MediaServer`` is a ThreadingHTTPServer on 127.0.0.1 whose routes each test declares; it
records every request it receives, so a test can prove a refused URL was never connected to.
``RecordingTransport`` is the real httpx transport noting every request it sends.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import io
import ssl
import struct
import time
import zlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from reelforge.errors import ReelforgeError
from reelforge.media.ingest import IngestedMedia
from reelforge.media.store import MediaStore

PUBLIC_BASE = "https://cdn.test/media"


# ----------------------------------------------------------------------------- sample media


def png_bytes(width: int = 64, height: int = 48, *, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(width * 1000 + height)
    channels = {"RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 255, size=(height, width, channels), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def image_bytes(fmt: str, width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, format=fmt)
    return out.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def video_bytes(
    path: Path,
    *,
    container: str = "mp4",
    codec: str = "libx264",
    frames: int = 48,
    size: tuple[int, int] = (160, 120),
    faststart: bool = True,
    movflags: str | None = None,
) -> bytes:
    """Encode a real short video (moving gradient) with PyAV and return its bytes."""
    width, height = size
    options = {"movflags": "+faststart"} if faststart and container in {"mp4", "mov"} else {}
    if movflags is not None:
        options = {"movflags": movflags}
    with av.open(str(path), "w", format=container, options=options) as output:
        stream = output.add_stream(codec, rate=24)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        ramp = np.linspace(0, 255, width, dtype=np.uint8)
        for index in range(frames):
            plane = np.roll(np.tile(ramp, (height, 1)), index * 3, axis=1)
            rgb = np.stack([plane, plane[::-1], np.full_like(plane, index * 5 % 255)], axis=-1)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path.read_bytes()


@dataclass(frozen=True)
class SampleMedia:
    """Real media files made once per session."""

    png: bytes
    rgba_png: bytes
    jpeg: bytes
    gif: bytes
    webp: bytes
    mp4: bytes
    mp4_tail_moov: bytes
    mov: bytes
    webm: bytes

    @staticmethod
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")


# ----------------------------------------------------------------------------- HTTP server


@dataclass
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True
    delay_s: float = 0.0  # before the headers
    trickle_s: float = 0.0  # between 16 KiB pieces of the body


@dataclass
class MediaServer:
    """A loopback HTTP/1.0 server; ``requests`` lists ``(path, Host header)`` as received."""

    host: str
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add(self, path: str, route: Route | None = None, **kwargs: Any) -> str:
        self.routes[path] = route or Route(**kwargs)
        return self.base_url + path


def _handler_for(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.requests.append((self.path, self.headers.get("Host", "")))
            route = server.routes.get(self.path.split("?", 1)[0])
            if route is None:
                route = Route(body=b"not found", status=404)
            # The client may go away mid-answer, as refused downloads do.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(route)

        def _answer(self, route: Route) -> None:
            time.sleep(route.delay_s)
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.send_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            view = memoryview(route.body)
            step = 16 * 1024 if route.trickle_s else 256 * 1024
            for start in range(0, len(view), step):
                self.wfile.write(view[start : start + step])
                time.sleep(route.trickle_s)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real httpx transport, noting the URL of every request it is asked to send."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[httpx.URL] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.url)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def stored_files(root: Path) -> list[str]:
    """Every regular file under ``root``, as sorted relative paths."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def sent_urls(client: httpx.AsyncClient) -> list[str]:
    transport = client._transport
    assert isinstance(transport, RecordingTransport)
    return [str(url) for url in transport.sent]


def make_server(state: MediaServer, tls: ssl.SSLContext | None = None) -> QuietServer:
    server = QuietServer((state.host, state.port), _handler_for(state))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    return server


def self_signed_certificate(folder: Path, hostname: str) -> tuple[Path, Path]:
    """A certificate for ``hostname`` only (not for 127.0.0.1) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def assert_refused(
    call: Coroutine[Any, Any, IngestedMedia], code: str, *, tmp_path: Path
) -> ReelforgeError:
    """Await ``call``; it must fail with ``code`` and leave no object and no temporary file."""
    with pytest.raises(ReelforgeError) as caught:
        await call
    assert caught.value.code == code, caught.value
    assert stored_files(tmp_path / "media") == []
    assert list((tmp_path / "spool").iterdir()) == []
    return caught.value


async def thumbnail_of(store: MediaStore, media: IngestedMedia) -> Image.Image:
    image = Image.open(io.BytesIO(await store.get_bytes(media.thumbnail_key)))
    assert image.format == "JPEG"
    image.load()
    return image
