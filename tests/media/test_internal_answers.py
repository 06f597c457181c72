"""Ingest is no port scanner: a caller's URL that reaches an allow-listed internal address gets
one answer for every failure, an allow-list entry opens one port, and no error quotes fetched
bytes. Real loopback servers (HTTP, and a raw TCP service), a real httpx client and store."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from media.media_support import (
    MediaServer,
    SampleMedia,
    assert_refused,
    bomb_png,
    sent_urls,
)
from reelforge.errors import ReelforgeError
from reelforge.media.ingest import Ingestor
from reelforge.media.store import ObjectMediaStore
from reelforge.settings import IngestSettings

BANNER = b"SSH-2.0-OpenSSH_9.6 internal-build-host\r\n"


@pytest.fixture
def banner_port() -> Iterator[int]:
    """A loopback TCP service that is not HTTP: it greets with a banner and hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(BANNER * 4)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shape(error: ReelforgeError, port: int) -> tuple[str, str, dict[str, object]]:
    """The answer with its one varying part, the port, taken out."""
    payload = error.to_payload()
    message = str(payload["message"]).replace(str(port), "<port>")
    details = {k: ("<port>" if v == port else v) for k, v in payload["details"].items()}
    return payload["code"], message, details


async def test_open_closed_and_foreign_ports_answer_alike(
    ingestor: Ingestor,
    media_server: MediaServer,
    samples: SampleMedia,
    banner_port: int,
    tmp_path: Path,
) -> None:
    media_server.add("/text.png", body=b"I am an internal admin page, not a picture. " * 20)
    media_server.add("/big.png", body=samples.png[:64] + bytes(9 * 1024 * 1024))
    media_server.add("/bomb.png", body=bomb_png(50_000, 50_000))
    media_server.add("/cut.png", body=samples.png[: len(samples.png) // 2])
    media_server.add("/away", status=302, headers={"Location": "http://10.0.0.1/x.png"})
    http_port, dead_port = media_server.port, closed_port()
    urls = {
        "closed port": (f"http://127.0.0.1:{dead_port}/x.png", dead_port),
        "not http": (f"http://127.0.0.1:{banner_port}/x.png", banner_port),
        "404": (f"http://127.0.0.1:{http_port}/missing.png", http_port),
        "not media": (f"http://127.0.0.1:{http_port}/text.png", http_port),
        "too large": (f"http://127.0.0.1:{http_port}/big.png", http_port),
        "too many pixels": (f"http://127.0.0.1:{http_port}/bomb.png", http_port),
        "corrupt": (f"http://127.0.0.1:{http_port}/cut.png", http_port),
        "redirect inward": (f"http://127.0.0.1:{http_port}/away", http_port),
    }
    shapes = {}
    for name, (url, port) in urls.items():
        error = await assert_refused(ingestor.ingest_url(url), "FETCH_REJECTED", tmp_path=tmp_path)
        shapes[name] = shape(error, port)
        text = json.dumps(error.to_payload())
        for quoted in ("SSH", "admin", BANNER[:8].hex(), b"I am an".hex()):
            assert quoted not in text, name
    assert len(set(map(repr, shapes.values()))) == 1, shapes
    _code, message, details = shapes["closed port"]
    assert details == {"host": "127.0.0.1", "port": "<port>"}
    assert message == (
        "Nothing could be ingested from '127.0.0.1:<port>': it is an internal address, "
        "whose answers are not reported."
    )


async def test_an_entry_with_a_port_opens_that_port_only(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    banner_port: int,
    spool_dir: Path,
    tmp_path: Path,
) -> None:
    settings = IngestSettings(allowed_hosts=[f"127.0.0.1:{media_server.port}"])
    ingestor = Ingestor(local_store, settings, http_client, temp_dir=spool_dir)
    url = media_server.add("/a.png", body=samples.png)
    media = await ingestor.ingest_url(url)
    assert media.content_type == "image/png"
    await ingestor.discard(media)

    refusals = []
    for port in (banner_port, closed_port()):
        error = await assert_refused(
            ingestor.ingest_url(f"http://127.0.0.1:{port}/x.png"),
            "URL_NOT_ALLOWED",
            tmp_path=tmp_path,
        )
        refusals.append(shape(error, port))
    assert refusals[0] == refusals[1]
    assert sent_urls(http_client) == [url]  # the other ports were never connected to


async def test_bare_host_entries_still_open_every_port(
    local_store: ObjectMediaStore,
    http_client: httpx.AsyncClient,
    media_server: MediaServer,
    samples: SampleMedia,
    spool_dir: Path,
) -> None:
    # The format before ports were named keeps working (and still answers alike, above).
    for entry in ("127.0.0.1", "127.0.0.1:*"):
        ingestor = Ingestor(
            local_store, IngestSettings(allowed_hosts=[entry]), http_client, temp_dir=spool_dir
        )
        media = await ingestor.ingest_url(media_server.add("/a.png", body=samples.png))
        await ingestor.discard(media)


async def test_refused_uploads_do_not_quote_their_bytes(ingestor: Ingestor, tmp_path: Path) -> None:
    error = await assert_refused(
        ingestor.ingest_bytes(b"secret-token=abc123 " * 20),
        "UNSUPPORTED_MEDIA_TYPE",
        tmp_path=tmp_path,
    )
    text = json.dumps(error.to_payload())
    assert b"secret-token"[:8].hex() not in text
    assert "secret" not in text
