"""Following ComfyUI's ``/ws`` websocket for the prompts this process submitted.

ComfyUI sends a prompt's ``progress`` (``{"value", "max", "prompt_id", "node"}``) only to the
client whose ``client_id`` submitted it, over ``/ws?clientId=...``; ``executing`` with
``node: null`` and ``execution_success`` mark the end, ``execution_error`` and
``execution_interrupted`` a failed or stopped prompt. The socket is an optimisation: the
adapter's status always asks ``/history`` and ``/queue``, and reads the step counts recorded here
while a prompt runs. A lost socket is reconnected after a pause that doubles up to 30 s;
binary frames (previews) are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import websockets

from reelforge.log import get_logger

__all__ = ["ProgressFeed", "Steps"]

log = get_logger(__name__)

_KEPT = 1_000
_RECONNECT_S = 1.0
_MAX_RECONNECT_S = 30.0


@dataclass(frozen=True, slots=True)
class Steps:
    """Step ``value`` of ``max`` of the node now running."""

    value: int
    max: int

    @property
    def fraction(self) -> float:
        return min(max(self.value / self.max, 0.0), 1.0) if self.max > 0 else 0.0


class ProgressFeed:
    """One websocket per adapter, started on the first submit, closed with the adapter."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        self._url = url
        self._headers = dict(headers)
        self._steps: OrderedDict[str, Steps] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="comfyui-progress")

    def steps(self, prompt_id: str) -> Steps | None:
        return self._steps.get(prompt_id)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        pause = _RECONNECT_S
        while True:
            try:
                async with websockets.connect(
                    self._url, additional_headers=self._headers, open_timeout=5
                ) as socket:
                    self.connected.set()
                    pause = _RECONNECT_S
                    async for frame in socket:
                        if isinstance(frame, str):
                            self._read(frame)
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                log.info("comfyui.progress.disconnected", error=type(exc).__name__, retry_s=pause)
            self.connected.clear()
            await asyncio.sleep(pause)
            pause = min(pause * 2, _MAX_RECONNECT_S)

    def _read(self, frame: str) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            return
        data = message.get("data") if isinstance(message, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("prompt_id"), str):
            return
        prompt_id = data["prompt_id"]
        if message.get("type") == "progress":
            value, maximum = data.get("value"), data.get("max")
            if isinstance(value, int) and isinstance(maximum, int):
                self._steps[prompt_id] = Steps(value, maximum)
                self._steps.move_to_end(prompt_id)
                while len(self._steps) > _KEPT:
                    self._steps.popitem(last=False)
