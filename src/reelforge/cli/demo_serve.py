"""``reelforge demo --serve``: the pages of the run just rendered, served by the same process.

The demo's services (and their job engine: DBOS registers it once per process) stay open and
the API is served over them, so the printed run URL is the run that was rendered. Auth is off
only on a loopback address; on any other address the configured tokens apply (``/login``).
Ctrl-C or SIGTERM stops the server, closes the services and exits 0.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from reelforge.api.app import create_app
from reelforge.errors import ConfigurationError, InvalidInput
from reelforge.services import Services
from reelforge.settings import Settings, require_public_url

__all__ = ["is_loopback", "serve_demo", "serving_settings"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serving_settings(settings: Settings, host: str, port: int) -> Settings:
    """``settings`` to serve on ``host:port`` (media URLs point there too): auth off on
    loopback; elsewhere auth as configured, which then needs a token. Checks the port is free
    now, before the demo renders for half a minute."""
    auth = settings.auth
    if is_loopback(host):
        auth = auth.model_copy(update={"enabled": False})
    elif auth.enabled and not auth.tokens:
        raise ConfigurationError(
            f"{host} is not a loopback address, so the pages need sign-in: set "
            "REELFORGE_AUTH__TOKENS (a JSON list of tokens), or serve on 127.0.0.1."
        )
    serving = settings.model_copy(
        update={
            "auth": auth,
            "server": settings.server.model_copy(update={"host": host, "port": port}),
        }
    )
    require_public_url(serving, "serve")
    _check_free(host, port)
    return serving


def _check_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidInput(
                f"Cannot listen on {host}:{port} ({exc.strerror}): pick another with --port.",
                details={"host": host, "port": port},
            ) from None


class _DemoServer(uvicorn.Server):
    """uvicorn's server, but a stop signal only stops it: uvicorn raises the signal again once
    it has shut down, which would kill the process before the services close. ``listening``
    is set once it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def serve_demo(services: Services, on_started: Callable[[str], None]) -> None:
    """Serve the API over ``services`` until a stop signal; ``on_started`` gets the public
    base URL once the server listens."""
    server_settings = services.settings.server
    config = uvicorn.Config(
        create_app(services),
        host=server_settings.host,
        port=server_settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = _DemoServer(config)
    serving = asyncio.create_task(server.serve())
    listening = asyncio.create_task(server.listening.wait())
    await asyncio.wait({serving, listening}, return_when=asyncio.FIRST_COMPLETED)
    listening.cancel()
    if server.listening.is_set():
        on_started(services.settings.service_url)
    await serving
