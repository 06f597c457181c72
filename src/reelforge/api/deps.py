"""Request-scoped access to the services the app was built with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from reelforge.services import Services

__all__ = ["ServicesDep", "get_services"]


async def get_services(request: Request) -> Services:
    # Async: FastAPI runs a plain function in its thread pool, one thread hop per request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
