"""What the webhook tests share: a receiver on loopback that answers as told, and settings."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelforge.settings import Settings

__all__ = ["SECRET", "Delivery", "Receiver", "hook_settings"]

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
    data_dir: Path, server_port: int, receiver_port: int, backoff_s: list[float]
) -> Settings:
    """An embedded engine on the local studio, the receiver's port allow-listed, quick pauses."""
    return Settings(
        data_dir=data_dir,
        auth={"enabled": False},
        server={"host": "127.0.0.1", "port": server_port},
        ingest={"allowed_hosts": [f"127.0.0.1:{receiver_port}"]},
        engine={
            "queue_poll_s": 0.05,
            "notification_poll_s": 0.05,
            "events_poll_s": 0.05,
            "hooks": {"backoff_s": backoff_s},
        },
    )
