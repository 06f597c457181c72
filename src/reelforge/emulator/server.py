"""Running the emulator: under uvicorn on a port, in the foreground or in a background thread.

:func:`serve_emulator` is what ``reelforge emulate`` runs. :class:`EmulatorServer` runs an
emulator on a loopback port in a thread of its own (its own event loop), for tests and
benchmarks that drive it from another loop. :func:`emulator_env` gives the environment that
points every Reelforge adapter at an emulator (``reelforge emulate --print-env``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from reelforge.emulator.app import build_emulator_app
from reelforge.emulator.base import EmulatedProvider
from reelforge.emulator.providers import EMULATED_PROVIDERS
from reelforge.errors import ConfigurationError

__all__ = ["EmulatorServer", "emulator_env", "serve_emulator"]

_LOOPBACK = "127.0.0.1"
_START_TIMEOUT_S = 15.0


def emulator_env(
    base_url: str, providers: Sequence[type[EmulatedProvider]] = EMULATED_PROVIDERS
) -> dict[str, str]:
    """Environment variables that point Reelforge at the emulator at ``base_url``.

    Base URLs and dummy keys per provider, and the emulator's host and port allowed for ingest
    (its media URLs are on loopback, which the URL guard otherwise refuses; no other port of
    that host is opened)."""
    base_url = base_url.rstrip("/")
    netloc = base_url.split("://", 1)[-1].split("/", 1)[0]
    env = {"REELFORGE_INGEST__ALLOWED_HOSTS": json.dumps([netloc])}
    for provider in providers:
        env.update(provider.environment(base_url))
    return env


def _uvicorn_config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        loop="asyncio",
        http="h11",
        # ComfyUI's /ws progress socket; the sans-I/O implementation (the legacy one warns).
        ws="websockets-sansio",
        # Hung requests (the 'hang' fault) must not hold a shutdown for long.
        timeout_graceful_shutdown=2,
    )


async def serve_emulator(
    host: str = _LOOPBACK,
    port: int = 8910,
    *,
    app: Starlette | None = None,
    log_level: str = "info",
) -> None:
    """Serve the emulator until interrupted."""
    config = _uvicorn_config(app or build_emulator_app(), host, port, log_level)
    await uvicorn.Server(config).serve()


class EmulatorServer:
    """An emulator on a loopback port, served from a background thread.

    Use as a context manager; :attr:`base_url` is ``http://127.0.0.1:<port>``. Port 0 picks a
    free port."""

    def __init__(
        self,
        app: Starlette | None = None,
        *,
        host: str = _LOOPBACK,
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.app = app or build_emulator_app()
        self._host = host
        self._port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        port = sock.getsockname()[1]
        server = uvicorn.Server(_uvicorn_config(self.app, self._host, port, self._log_level))
        self._server = server
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"reelforge-emulator-{port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise ConfigurationError(f"The emulator did not start on port {port}.")
            time.sleep(0.01)
        self.base_url = f"http://{self._host}:{port}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
