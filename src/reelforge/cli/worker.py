"""``reelforge worker``: a process that runs the engine's work (provider jobs and runs).

In scale-out mode (``engine.system_database_url`` on PostgreSQL) start any number, on any
machines, each with its own stable ``engine.executor_id``; ``reelforge serve`` then only takes
requests and webhooks. In embedded mode (SQLite) a worker is the one process of its data
directory, like ``reelforge serve`` is: it runs the work but serves no API (so no webhooks:
jobs are polled). SIGTERM or Ctrl-C stops it; its unfinished work stays pending and resumes
when it starts again, or on another worker once its heartbeat is stale.

With ``engine.worker_metrics_port`` set it serves its Prometheus metrics there (the jobs it
runs are counted in its own process; docs/metrics.md).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from reelforge.cli.common import (
    announce_providers,
    check_providers,
    console,
    fail_on_error,
    load_settings,
)

if TYPE_CHECKING:
    import asyncio

    from prometheus_client import CollectorRegistry

    from reelforge.settings import Settings

__all__ = ["run_worker", "worker"]


def worker(
    executor_id: Annotated[
        str | None,
        typer.Option(help="This worker's stable id (settings: engine.executor_id)"),
    ] = None,
) -> None:
    """Run the engine's work (provider jobs and runs) until stopped."""
    import asyncio

    settings = load_settings(service=True)
    if executor_id is not None:
        engine = settings.engine.model_copy(update={"executor_id": executor_id})
        settings = settings.model_copy(update={"engine": engine})
    with fail_on_error():
        asyncio.run(run_worker(settings))


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Serve as a worker until ``stop`` is set, or SIGTERM / SIGINT arrives."""
    import asyncio

    from reelforge.log import get_logger
    from reelforge.services import open_services
    from reelforge.settings import require_public_url

    log = get_logger(__name__)
    require_public_url(settings, "worker")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with open_services(settings, engine="worker") as services:
        assert services.engine is not None
        engine = services.engine.engine
        console.print(
            f"worker [bold]{engine.executor_id}[/bold] running ({engine.mode} mode); "
            "Ctrl-C stops it."
        )
        log.info("worker.ready", executor_id=engine.executor_id, mode=engine.mode)
        announce_providers(services.providers)
        await check_providers(services.providers)
        with _metrics_port(settings, services.metrics.registry):
            await stop.wait()


@contextlib.contextmanager
def _metrics_port(settings: Settings, registry: CollectorRegistry) -> Iterator[None]:
    """The worker's own metrics on ``engine.worker_metrics_port`` (its jobs are counted where
    it runs them); nothing when unset."""
    from prometheus_client import start_http_server

    from reelforge.log import get_logger

    port = settings.engine.worker_metrics_port
    if port is None:
        yield
        return
    log = get_logger(__name__)
    host = settings.engine.worker_metrics_host
    server, thread = start_http_server(port, addr=host, registry=registry)
    log.info("worker.metrics_serving", host=host, port=server.server_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
