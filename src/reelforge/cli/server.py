"""``reelforge serve``: the API under uvicorn, with the database migrated first."""

from __future__ import annotations

import uvicorn

from reelforge.api.app import create_app
from reelforge.cli.common import announce_providers
from reelforge.log import get_logger
from reelforge.services import open_services
from reelforge.settings import Settings

__all__ = ["run_server"]

log = get_logger(__name__)


async def run_server(settings: Settings) -> None:
    async with open_services(settings, engine="api") as services:
        announce_providers(services.providers)
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
            auth=settings.auth.enabled,
        )
        await uvicorn.Server(config).serve()
