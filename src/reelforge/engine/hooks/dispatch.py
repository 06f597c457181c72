"""Hook workflows started from outside any workflow: a canceled run's end, a budget refusal, a
manual redelivery.

In a process whose engine is launched they are enqueued on the hooks queue through its DBOS
(from a fresh context, as a step may not start a workflow); in a ``client`` process (the CLI
beside a server) through its ``DBOSClient``. Each has a workflow id from what it is about, so
starting it twice starts it once.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions, SetWorkflowID

from reelforge.engine.busy import engine_call
from reelforge.engine.config import HookSettings
from reelforge.engine.hooks.announcing import budget_exhausted_event
from reelforge.engine.hooks.events import HookEvent
from reelforge.engine.hooks.workflows import (
    HOOK_WORKFLOWS_CLASS,
    HOOKS_QUEUE,
    HookWorkflows,
    delivery_workflow_id,
)
from reelforge.errors import ReelforgeError
from reelforge.log import get_logger

__all__ = ["HookDispatch"]

log = get_logger(__name__)


class HookDispatch:
    """Starts hook workflows; the engine sets :attr:`workflows` or :attr:`client` at start."""

    def __init__(self, settings: HookSettings, clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._clock = clock
        self.workflows: HookWorkflows | None = None
        self.client: DBOSClient | None = None
        self.instance_name = ""
        self.application_version = ""
        self._tasks: set[asyncio.Task[None]] = set()

    async def announce_run_end(self, run_id: str) -> None:
        """Announce a run's end from outside its workflow (a canceled run); once a run."""
        await self._enqueue(f"hook-run-{run_id}", "announce_run", run_id)

    async def announce(self, event: HookEvent) -> None:
        """Announce an event from outside any workflow; once per event key."""
        await self._enqueue(f"hook-event-{event.key}", "announce", event.model_dump(mode="json"))

    async def redeliver(self, delivery_id: str, round_: int) -> None:
        """Start a delivery's new round (a manual redelivery)."""
        await self._enqueue(
            delivery_workflow_id(delivery_id, round_),
            "deliver",
            delivery_id,
            list(self._settings.backoff_s),
        )

    def budget_refused(self, scope_kind: str, scope_id: str) -> None:
        """A capped scope refused a reservation: announce ``budget.exhausted`` (once a scope a
        day) in the background; the refusal is answered without waiting for it."""
        if self.workflows is None:
            return
        event = budget_exhausted_event(scope_kind, scope_id, self._clock())
        task = asyncio.create_task(self._announce_quietly(event), context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce_quietly(self, event: HookEvent) -> None:
        try:
            await self.announce(event)
        except ReelforgeError as exc:
            log.error("hook.announce_failed", event_type=event.type, code=exc.code)

    async def _enqueue(self, workflow_id: str, method: str, *args: Any) -> None:
        client = self.client
        if client is not None:
            options: EnqueueOptions = {
                "queue_name": HOOKS_QUEUE,
                "workflow_name": f"reelforge.hook.{method}",
                "class_name": HOOK_WORKFLOWS_CLASS,
                "instance_name": self.instance_name,
                "workflow_id": workflow_id,
                "app_version": self.application_version,
            }
            await engine_call(lambda: client.enqueue_async(options, *args))
            return
        workflows = self.workflows
        if workflows is None:
            return  # no engine launched with a sender here: this process makes no deliveries

        async def enqueue() -> None:
            with SetWorkflowID(workflow_id):
                await DBOS.enqueue_workflow_async(HOOKS_QUEUE, getattr(workflows, method), *args)

        await asyncio.create_task(engine_call(enqueue), context=contextvars.Context())
