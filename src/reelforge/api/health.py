"""``GET /healthz`` on a port of its own (``server.health_port``), for liveness probes.

The API's own ``/healthz`` is answered on the event loop that serves every request: under a
crowd of requests it waits its turn behind them, and a probe reads seconds where the process is
merely busy. :class:`HealthListener` answers on a thread of its own, from a socket of its own,
touching neither the catalog nor the event loop. So that it still tells a live process from a
stuck one, the event loop beats (:meth:`HealthListener.beating`) and the listener answers 503
once no beat came for ``stall_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator

from reelforge.log import get_logger

__all__ = ["HealthListener"]

log = get_logger(__name__)

_BEAT_S = 0.5
_ACCEPT_POLL_S = 0.2
_CLIENT_TIMEOUT_S = 2.0


class HealthListener:
    """Answers ``GET /healthz`` (``HEAD`` too) on ``host:port`` from a daemon thread; every
    other request 404. One connection at a time, closed after its answer."""

    def __init__(self, host: str, port: int, *, version: str, stall_s: float = 10.0) -> None:
        self._version = version
        self._stall_s = stall_s
        self._beat_at = time.monotonic()
        self._stopped = threading.Event()
        self._socket = socket.create_server((host, port))
        self._socket.settimeout(_ACCEPT_POLL_S)
        self.port: int = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="healthz", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (if started) and close the socket."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        self._socket.close()

    def beat(self) -> None:
        """The event loop ran just now."""
        self._beat_at = time.monotonic()

    @contextlib.asynccontextmanager
    async def beating(self) -> AsyncIterator[None]:
        """Serve while the running event loop beats; stop both on exit."""

        async def beat() -> None:
            while True:
                self.beat()
                await asyncio.sleep(_BEAT_S)

        self.start()
        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(self.stop)

    def answer(self, request: bytes) -> bytes:
        """The whole HTTP/1.1 answer to the request that starts with ``request``."""
        method, _, rest = request.partition(b" ")
        target = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        head = method == b"HEAD"
        if method not in (b"GET", b"HEAD") or target != b"/healthz":
            return _response(404, {"status": "not found"}, head=head)
        stalled_s = time.monotonic() - self._beat_at
        if stalled_s > self._stall_s:
            body = {"status": "stalled", "version": self._version, "stalled_s": round(stalled_s)}
            return _response(503, body, head=head)
        return _response(200, {"status": "ok", "version": self._version}, head=head)

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                log.warning("health.accept_failed", error=type(exc).__name__)
                continue
            with connection:
                connection.settimeout(_CLIENT_TIMEOUT_S)
                try:
                    connection.sendall(self.answer(connection.recv(4096)))
                except OSError:
                    continue


_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


def _response(status: int, body: dict[str, object], *, head: bool) -> bytes:
    payload = json.dumps(body).encode()
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head_bytes if head else head_bytes + payload
