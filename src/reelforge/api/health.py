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
import threading
import time
from collections.abc import AsyncIterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["HealthListener"]

_BEAT_S = 0.5
_CLIENT_TIMEOUT_S = 2.0


class HealthListener:
    """Answers ``GET /healthz`` (``HEAD`` too) on ``host:port`` from a thread of its own (the
    standard library's HTTP server); any other request 404."""

    def __init__(self, host: str, port: int, *, version: str, stall_s: float = 10.0) -> None:
        self._version = version
        self._stall_s = stall_s
        self._beat_at = time.monotonic()
        self._server = _HealthServer((host, port), _HealthHandler, listener=self)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="healthz", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (if started) and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

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

    def health(self) -> tuple[HTTPStatus, dict[str, Any]]:
        """200 while the event loop beats, 503 ("stalled") once it has not for ``stall_s``."""
        stalled_s = time.monotonic() - self._beat_at
        if stalled_s > self._stall_s:
            body = {"status": "stalled", "version": self._version, "stalled_s": round(stalled_s)}
            return HTTPStatus.SERVICE_UNAVAILABLE, body
        return HTTPStatus.OK, {"status": "ok", "version": self._version}


class _HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, *, listener: HealthListener):
        self.listener = listener
        super().__init__(address, handler)


class _HealthHandler(BaseHTTPRequestHandler):
    timeout = _CLIENT_TIMEOUT_S
    server: _HealthServer

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def __getattr__(self, name: str) -> Any:
        # Any other method (do_POST, ...) is answered 404 like any other path, not 501.
        if name.startswith("do_"):
            return self._not_found
        raise AttributeError(name)

    def _not_found(self) -> None:
        self._send(HTTPStatus.NOT_FOUND, {"status": "not found"}, body=self.command != "HEAD")

    def _answer(self, *, body: bool) -> None:
        if self.path.split("?", 1)[0] != "/healthz":
            self._send(HTTPStatus.NOT_FOUND, {"status": "not found"}, body=body)
            return
        status, document = self.server.listener.health()
        self._send(status, document, body=body)

    def _send(self, status: HTTPStatus, document: dict[str, Any], *, body: bool) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes are not logged: one a few seconds would drown the log."""
