"""Deliveries as DBOS workflows: durable across crashes, with durable sleeps between attempts.

``announce`` (workflow id ``hook-event-<key>``, so an event announced twice is announced once)
records one delivery per subscription the event concerns (a step) and enqueues a ``deliver``
workflow for each on the hooks queue (``hook-<delivery id>-<round>``). ``deliver`` makes an
attempt (a step: post, then log it), and while it fails sleeps durably (``DBOS.sleep``) for the
next pause of its schedule, then tries again; after the last pause's attempt the delivery is
``failed``. A process killed at any point resumes the workflow where it was, in a sleep
included: a pause counts from when it began, not from the restart. The schedule is the
workflow's input, so a restart under other settings keeps the pauses the delivery began with.
A manual redelivery is a new round: a new ``deliver`` workflow over the same delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dbos import DBOS, DBOSConfiguredInstance, SetWorkflowID

from reelforge.engine.hooks.announcing import HookEvents
from reelforge.engine.hooks.events import HookEvent
from reelforge.engine.hooks.repository import HookRepository
from reelforge.engine.hooks.sending import AttemptResult, HookSender
from reelforge.engine.hooks.tables import DeliveryStatus
from reelforge.errors import ConfigurationError, NotFound, ReelforgeError
from reelforge.log import get_logger

__all__ = [
    "HOOKS_QUEUE",
    "HOOK_WORKFLOWS_CLASS",
    "AttemptObserver",
    "HookWorkflows",
    "announce_workflow_id",
    "delivery_workflow_id",
]

log = get_logger(__name__)

HOOKS_QUEUE = "reelforge-hooks"
HOOK_WORKFLOWS_CLASS = "reelforge.HookWorkflows"
#: Told each attempt's outcome (the webhooks-out counter).
AttemptObserver = Callable[[str, str], None]


def announce_workflow_id(event_key: str) -> str:
    return f"hook-event-{event_key}"


def delivery_workflow_id(delivery_id: str, round_: int) -> str:
    return f"hook-{delivery_id}-{round_}"


@DBOS.dbos_class(HOOK_WORKFLOWS_CLASS)
class HookWorkflows(DBOSConfiguredInstance):
    """Announces events and delivers them, over the hooks' repository and sender."""

    def __init__(
        self,
        name: str,
        hooks: HookRepository,
        events: HookEvents,
        sender: HookSender,
        *,
        backoff_s: tuple[float, ...],
        clock: Callable[[], datetime],
        observe: AttemptObserver | None = None,
    ) -> None:
        self._hooks = hooks
        self._events = events
        self._sender = sender
        self._backoff_s = backoff_s
        self._clock = clock
        self._observe = observe
        super().__init__(name)

    # -- announcing: inside the engine's workflows, or as workflows of their own ------------

    async def run_ended(self, run_id: str, round_: int = 0) -> None:
        """Announce a run's end; called by the run workflow after its finish step (and by a
        retry round's, ``round_``, after it finishes the run again)."""
        await self._enqueue_all(await self._record_run_end(run_id, round_))

    async def job_failed(self, job_id: str, run_id: str) -> None:
        """Announce a job's final failure; called by the job workflow at its end."""
        await self._enqueue_all(await self._record_job_failed(job_id, run_id))

    @DBOS.workflow(name="reelforge.hook.announce_run")
    async def announce_run(self, run_id: str) -> None:
        """A run's end announced from outside its workflow (a canceled run)."""
        await self.run_ended(run_id)

    @DBOS.workflow(name="reelforge.hook.announce")
    async def announce(self, event: dict[str, object]) -> None:
        await self._enqueue_all(await self._record(event))

    async def _enqueue_all(self, delivery_ids: list[str]) -> None:
        for delivery_id in delivery_ids:
            await self.enqueue_delivery(delivery_id, 1)

    async def enqueue_delivery(self, delivery_id: str, round_: int) -> None:
        with SetWorkflowID(delivery_workflow_id(delivery_id, round_)):
            await DBOS.enqueue_workflow_async(
                HOOKS_QUEUE, self.deliver, delivery_id, list(self._backoff_s)
            )

    @DBOS.step(name="reelforge.hook.record")
    async def _record(self, event: dict[str, object]) -> list[str]:
        return await self._hooks.record_event(HookEvent.model_validate(event))

    @DBOS.step(name="reelforge.hook.record_run_end")
    async def _record_run_end(self, run_id: str, round_: int = 0) -> list[str]:
        delivery_ids: list[str] = []
        for event in await self._events.run_ended(run_id, round_):
            delivery_ids += await self._hooks.record_event(event)
        return delivery_ids

    @DBOS.step(name="reelforge.hook.record_job_failed")
    async def _record_job_failed(self, job_id: str, run_id: str) -> list[str]:
        return await self._hooks.record_event(await self._events.job_failed(job_id, run_id))

    # -- delivering --------------------------------------------------------------------------

    @DBOS.workflow(name="reelforge.hook.deliver")
    async def deliver(self, delivery_id: str, pauses_s: list[float]) -> str:
        status: DeliveryStatus = "pending"
        for number in range(len(pauses_s) + 1):
            final = number == len(pauses_s)
            try:
                status = await self._attempt(delivery_id, final)
            except NotFound:
                status = "failed"  # its subscription was deleted, and the delivery with it
            except ReelforgeError as exc:
                # The catalog failed past its own tries: this attempt counts as not made.
                log.warning("hook.attempt_unrecorded", delivery_id=delivery_id, code=exc.code)
            if status != "pending" or final:
                break
            await DBOS.sleep_async(pauses_s[number])
        log.info("hook.delivery_ended", delivery_id=delivery_id, status=status)
        return status

    @DBOS.step(name="reelforge.hook.attempt")
    async def _attempt(self, delivery_id: str, final: bool) -> DeliveryStatus:
        delivery = await self._hooks.delivery(delivery_id)
        if delivery.status == "delivered":
            return "delivered"
        try:
            result = await self._sender.attempt(
                delivery_id, delivery.url, delivery.body, self._clock()
            )
        except ConfigurationError as exc:
            result = AttemptResult("failed", error=exc.code)
        if self._observe is not None:
            self._observe(delivery.event_type, result.outcome)
        status = await self._hooks.record_attempt(
            delivery_id,
            result.outcome,
            status_code=result.status_code,
            error=result.error,
            final=final,
        )
        log.info(
            "hook.attempt",
            delivery_id=delivery_id,
            event_type=delivery.event_type,
            outcome=result.outcome,
            status_code=result.status_code,
        )
        return status
