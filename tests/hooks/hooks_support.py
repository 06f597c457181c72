"""What the webhook tests share: a receiver on loopback that answers as told, and settings."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fixtures.server import loopback_socket, serve_app
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings

__all__ = ["SECRET", "Delivery", "Receiver", "hook_settings", "served"]

#: The signing secret the tests give the service (REELFORGE_HOOKS_SECRET) and the receiver.
SECRET = "whsec_" + base64.b64encode(b"reelforge-test-webhook-secret-32b").decode()


@dataclass(frozen=True, slots=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A raw ASGI app: records each request and answers the next of ``answers`` (then 200)."""

    answers: list[int] = field(default_factory=list)
    received: list[Delivery] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.received.append(Delivery(scope["path"], headers, body))
        status = self.answers.pop(0) if self.answers else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def wait_for(self, count: int, timeout_s: float = 60.0) -> list[Delivery]:
        async with asyncio.timeout(timeout_s):
            while len(self.received) < count:
                await asyncio.sleep(0.05)
        return self.received


def hook_settings(
    data_dir: Path,
    server_port: int,
    receiver_port: int,
    backoff_s: list[float],
    providers: Mapping[str, Any] | None = None,
    allowed: Sequence[str] = (),
) -> Settings:
    """An embedded engine (the local studio, and ``providers``), the receiver's port
    allow-listed, quick pauses."""
    return Settings(
        data_dir=data_dir,
        auth={"enabled": False},
        server={"host": "127.0.0.1", "port": server_port},
        ingest={"allowed_hosts": [f"127.0.0.1:{receiver_port}", *allowed]},
        providers=dict(providers or {}),
        engine={
            "queue_poll_s": 0.05,
            "notification_poll_s": 0.05,
            "events_poll_s": 0.05,
            "hooks": {"backoff_s": backoff_s},
        },
    )


@asynccontextmanager
async def served(
    tmp_path: Path,
    receiver: Receiver,
    backoff_s: list[float],
    *,
    providers: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    allowed: Sequence[str] = (),
) -> AsyncIterator[tuple[str, str, Services]]:
    """The service and the receiver, each on its loopback port: (service URL, receiver URL,
    the service's services)."""
    service_sock, receiver_sock = loopback_socket(), loopback_socket()
    settings = hook_settings(
        tmp_path / "data",
        service_sock.getsockname()[1],
        receiver_sock.getsockname()[1],
        backoff_s,
        providers,
        allowed,
    )
    await upgrade_database(settings.effective_database_url)
    env = {"REELFORGE_HOOKS_SECRET": SECRET, **(environ or {})}
    services = build_services(settings, environ=env)
    try:
        async with (
            serve_app(receiver, receiver_sock) as receiver_url,
            serve_app(create_app(services), service_sock) as base_url,
        ):
            await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
            yield base_url, receiver_url, services
    finally:
        await services.aclose()
