"""``reelforge serve``: the API under uvicorn, with the database migrated first."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

import uvicorn

from reelforge import __version__
from reelforge.api.app import create_app
from reelforge.api.health import HealthListener
from reelforge.cli.common import announce_providers, check_providers
from reelforge.log import get_logger
from reelforge.services import open_services
from reelforge.settings import ServerSettings, Settings, require_public_url

__all__ = ["run_server"]

log = get_logger(__name__)


async def run_server(settings: Settings) -> None:
    public_url = require_public_url(settings, "serve")
    async with open_services(settings, engine="api") as services:
        announce_providers(services.providers)
        await check_providers(services.providers)
        app = create_app(services)
        config = uvicorn.Config(
            app,
            host=settings.server.host,
            port=settings.server.port,
            log_level=settings.log_level,
            access_log=False,
        )
        log.info(
            "server.starting",
            host=settings.server.host,
            port=settings.server.port,
            public_url=public_url,
            health_port=settings.server.health_port,
            auth=settings.auth.enabled,
        )
        # What startup built lives as long as the process: out of the collector's sight, or
        # every full collection walks its quarter of a million objects again (a pause of a
        # quarter of a second for every request in flight, on a small machine).
        gc.collect()
        gc.freeze()
        async with _health_listener(settings.server):
            await uvicorn.Server(config).serve()


@contextlib.asynccontextmanager
async def _health_listener(server: ServerSettings) -> AsyncIterator[None]:
    if server.health_port is None:
        yield
        return
    listener = HealthListener(
        server.host, server.health_port, version=__version__, stall_s=server.health_stall_s
    )
    async with listener.beating():
        yield
