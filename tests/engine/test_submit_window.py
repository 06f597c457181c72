"""The submit step's window, step by step (``JobOperations.submit`` as DBOS runs it, and runs it
again after a crash), on SQLite and PostgreSQL, over the toy vendor of ``submit_support``:

- an intent is recorded before every call; a re-run that finds it with nothing accepted looks
  the submission up (a callback that named the job, the vendor's listing) and adopts it;
- found nothing where it may still show up: in doubt until ``orphan_wait_s``, then submitted
  again on the same reservation;
- no way to know: the possible charge is settled at the estimate ("possibly billed twice"),
  never released at $0, and the job submitted again under a new reservation;
- a callback for a submission the job went on without is charged to the job ("billed twice");
- a synchronous answer is stored by the submit step and survives a restart.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.submit_support import (
    TOY_WINDOW_CLASSES,
    BlindToy,
    HookToy,
    LookupToy,
    ProcessDied,
    SyncToy,
    ToyVendor,
    hook_body,
)
from fixtures import database as database_fixtures
from reelforge.budget.records import Reservation
from reelforge.budget.scopes import BudgetScope
from reelforge.engine.events import RunEvents
from reelforge.engine.intents import SubmitHistory
from reelforge.engine.operations import EngineDeps, JobOperations
from reelforge.engine.outcomes import Failure, InDoubt, StepError, Submitted
from reelforge.engine.runtime import Engine
from reelforge.engine.specs import JobSpec
from reelforge.engine.webhooks import WebhookInbox
from reelforge.errors import NotFound, ProviderTimeout, ProviderUnavailable
from reelforge.providers.base import Capability, ProviderDeps
from reelforge.providers.registry import ProviderRegistry
from reelforge.services import Services, build_services
from reelforge.settings import Settings

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url

PROJECT = BudgetScope("project", "harbour")
PRICE = Decimal("0.01")
WAIT_S = 30.0
BASE = "http://127.0.0.1:9"


class Clock:
    """The engine's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class _Engine:
    """What the webhook inbox uses of the engine: its operations, and ``send``."""

    operations: JobOperations
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def send(self, workflow_id: str, message: dict[str, Any], topic: str, key: str) -> None:
        self.sent.append((workflow_id, message))


@dataclass
class Window:
    services: Services
    settings: Settings
    clock: Clock
    vendor: ToyVendor
    ops: JobOperations
    engine: _Engine

    def restarted(self) -> JobOperations:
        """The operations of a new process: its adapters hold nothing yet."""
        fresh = ProviderRegistry(
            self.settings, ProviderDeps(http=self.services.http, environ={}), TOY_WINDOW_CLASSES
        )
        return JobOperations(_deps(self.services, fresh, self.clock))

    @property
    def inbox(self) -> WebhookInbox:
        return WebhookInbox(
            cast(Engine, self.engine), self.services.catalog, self.services.providers
        )

    async def job(self, provider: str, label: str = "f0") -> tuple[str, JobSpec]:
        spec = JobSpec(
            provider=provider,
            capability=Capability.TEXT_TO_IMAGE,
            prompt=f"a harbour at dusk ({label})",
            width=64,
            height=48,
            label=label,
            budget_scopes=(PROJECT.key,),
        )
        job = await self.services.catalog.jobs.create(
            provider=provider,
            model="toy-still-1",
            capability="text_to_image",
            request=spec.model_dump(mode="json"),
        )
        return job.id, spec

    async def reservations(self, job_id: str) -> list[Reservation]:
        """The job's reservations, oldest first."""
        budget = self.services.budget
        ids = dict.fromkeys(e.reservation_id for e in await budget.ledger(job_id=job_id))
        return [await budget.get_reservation(reservation_id) for reservation_id in ids]

    async def history(self, job_id: str) -> SubmitHistory:
        return SubmitHistory(await self.services.catalog.jobs.events(job_id))

    async def callback(self, provider: str, job_id: str, body: bytes) -> dict[str, Any]:
        return await self.inbox.receive(provider, {}, body, query={"job": job_id, "attempt": "1"})


def _deps(services: Services, providers: ProviderRegistry, clock: Clock) -> EngineDeps:
    return EngineDeps(
        catalog=services.catalog,
        assets=services.assets,
        store=services.store,
        providers=providers,
        events=RunEvents(services.catalog, poll_s=0.1),
        webhook_base_url=BASE,
        budget=services.budget,
        clock=clock,
        orphan_wait_s=WAIT_S,
    )


@pytest.fixture
async def window(database_url: str, tmp_path: Path) -> AsyncIterator[Window]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    services = build_services(settings, environ={}, provider_classes=TOY_WINDOW_CLASSES)
    clock = Clock()
    vendor = ToyVendor(clock)
    for cls in (BlindToy, LookupToy, HookToy, SyncToy):
        cls.vendor = vendor
    try:
        ops = JobOperations(_deps(services, services.providers, clock))
        yield Window(services, settings, clock, vendor, ops, _Engine(ops))
    finally:
        await services.aclose()


async def _die_in_window(window: Window, job_id: str, spec: JobSpec) -> None:
    """The vendor accepts; the process dies before the catalog hears of it."""
    window.vendor.die_after_accept = 1
    with pytest.raises(ProcessDied):
        await window.ops.submit(job_id, spec, 1)


async def test_the_intent_comes_before_the_call_and_names_the_job_in_the_webhook_url(
    window: Window,
) -> None:
    job_id, spec = await window.job("toy_hook")
    submitted = await window.ops.submit(job_id, spec, 1)
    assert isinstance(submitted, Submitted)
    events = await window.services.catalog.jobs.events(job_id)
    kinds = [(e.kind, e.status) for e in events]
    assert kinds.index(("note", None)) < kinds.index(("status", "running"))
    intent = (await window.history(job_id)).intent(1)
    assert intent is not None
    assert (intent.attempt, intent.try_number, intent.at) == (1, 0, window.clock.now)
    assert intent.reservation_id == submitted.reservation_id
    assert intent.webhook_url is not None
    url = urlsplit(intent.webhook_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{BASE}/webhooks/toy_hook"
    assert parse_qs(url.query) == {"job": [job_id], "attempt": ["1"]}
    assert window.vendor.accepted[0].request.webhook_url == intent.webhook_url
    # Run again (a crash after the acceptance was recorded): reconciled, nothing sent.
    again = await window.ops.submit(job_id, spec, 1)
    assert isinstance(again, Submitted)
    assert again.handle == submitted.handle
    assert len(window.vendor.accepted) == 1


async def test_a_listed_submission_is_adopted_not_paid_twice(window: Window) -> None:
    job_id, spec = await window.job("toy_lookup")
    await _die_in_window(window, job_id, spec)
    recovered = await window.ops.submit(job_id, spec, 1)
    assert isinstance(recovered, Submitted)
    assert window.vendor.billed == [recovered.handle.request_id]
    assert window.vendor.lookups == 1
    [reservation] = await window.reservations(job_id)
    assert recovered.reservation_id == reservation.id
    assert reservation.status == "active"


async def test_a_listed_submission_another_job_holds_is_not_taken(window: Window) -> None:
    first_id, spec = await window.job("toy_lookup", "same")
    first = await window.ops.submit(first_id, spec, 1)
    assert isinstance(first, Submitted)
    second_id, _ = await window.job("toy_lookup", "same")
    window.clock.now -= 5  # the second's intent predates the first's submission
    await _die_in_window(window, second_id, spec)
    recovered = await window.ops.submit(second_id, spec, 1)
    assert isinstance(recovered, Submitted)
    assert recovered.handle.request_id == window.vendor.billed[1]
    assert recovered.handle.request_id != first.handle.request_id


async def test_nothing_listed_yet_waits_then_submits_again_on_the_same_reservation(
    window: Window,
) -> None:
    job_id, spec = await window.job("toy_lookup")
    await _die_in_window(window, job_id, spec)
    window.vendor.listing = False
    intent_at = window.clock.now
    doubt = await window.ops.submit(job_id, spec, 1)
    assert isinstance(doubt, InDoubt)
    assert doubt.until == intent_at + WAIT_S
    assert len(window.vendor.accepted) == 1
    window.clock.now += WAIT_S / 2
    assert isinstance(await window.ops.submit(job_id, spec, 1), InDoubt)
    window.clock.now += WAIT_S
    resubmitted = await window.ops.submit(job_id, spec, 1)
    assert isinstance(resubmitted, Submitted)
    assert len(window.vendor.accepted) == 2
    assert resubmitted.handle.request_id == window.vendor.billed[1]
    [reservation] = await window.reservations(job_id)
    assert resubmitted.reservation_id == reservation.id
    history = await window.history(job_id)
    accepted = history.accepted(1)
    assert accepted is not None
    assert accepted.try_number == 1


async def test_no_way_to_know_settles_the_possible_charge_and_submits_again(
    window: Window,
) -> None:
    job_id, spec = await window.job("toy_blind")
    await _die_in_window(window, job_id, spec)
    resubmitted = await window.ops.submit(job_id, spec, 1)
    assert isinstance(resubmitted, Submitted)
    assert len(window.vendor.accepted) == 2
    possible, current = await window.reservations(job_id)
    assert (possible.status, possible.actual_usd) == ("settled", PRICE)
    assert possible.reason is not None
    assert possible.reason.startswith("possibly billed twice")
    assert resubmitted.reservation_id == current.id
    assert current.status == "active"
    # Failing the job now gives back what is still set aside, never the possible charge.
    await window.ops.fail(job_id, StepError(code="provider_error", message="gave up"))
    possible, current = await window.reservations(job_id)
    assert (possible.status, current.status) == ("settled", "released")
    balance = await window.services.budget.balance(PROJECT)
    assert (balance.spent_usd, balance.reserved_usd) == (PRICE, Decimal(0))


async def test_a_timeout_after_sending_is_the_same_window(window: Window) -> None:
    # No way to know: the possible charge is settled, then the failure is reported.
    blind_id, blind = await window.job("toy_blind", "blind")
    window.vendor.fail_after_accept = ProviderTimeout("slow", provider="toy_blind")
    failed = await window.ops.submit(blind_id, blind, 1)
    assert isinstance(failed, Failure)
    assert failed.error.code == "provider_timeout"
    await window.ops.retrying(blind_id, 1, failed.error, 0.0)
    [possible] = await window.reservations(blind_id)
    assert (possible.status, possible.actual_usd) == ("settled", PRICE)
    # A listing: in doubt, then the submission is found.
    listed_id, listed = await window.job("toy_lookup", "listed")
    window.vendor.fail_after_accept = ProviderTimeout("slow", provider="toy_lookup")
    window.vendor.listing = False
    doubt = await window.ops.submit(listed_id, listed, 1)
    assert isinstance(doubt, InDoubt)
    assert doubt.error is not None
    window.vendor.listing = True
    found = await window.ops.submit(listed_id, listed, 1)
    assert isinstance(found, Submitted)
    assert found.handle.request_id == window.vendor.billed[-1]
    assert len(window.vendor.accepted) == 2


async def test_a_refused_call_is_released_and_never_looked_up(window: Window) -> None:
    job_id, spec = await window.job("toy_lookup")
    refused = ProviderUnavailable("busy", provider="toy_lookup", details={"http_status": 503})
    window.vendor.fail_before_accept = refused
    failed = await window.ops.submit(job_id, spec, 1)
    assert isinstance(failed, Failure)
    # Run again (a crash before DBOS kept the result): the same answer, nothing sent.
    again = await window.ops.submit(job_id, spec, 1)
    assert isinstance(again, Failure)
    assert (window.vendor.accepted, window.vendor.lookups) == ([], 0)
    [reservation] = await window.reservations(job_id)
    assert reservation.status == "released"


async def test_a_callback_naming_the_job_in_its_window_is_adopted(window: Window) -> None:
    job_id, spec = await window.job("toy_hook")
    await _die_in_window(window, job_id, spec)
    [lost] = window.vendor.billed
    answer = await window.callback("toy_hook", job_id, hook_body(lost))
    assert answer == {"received": True, "outcome": "delivered", "adopted": True, "job_id": job_id}
    [(workflow_id, message)] = window.engine.sent
    assert (workflow_id, message["request_id"], message["state"]) == (
        f"job-{job_id}",
        lost,
        "succeeded",
    )
    recovered = await window.ops.submit(job_id, spec, 1)
    assert isinstance(recovered, Submitted)
    assert recovered.handle.request_id == lost
    assert window.vendor.billed == [lost]
    [record] = await window.services.catalog.webhook_events.list(provider="toy_hook")
    assert (record.outcome, record.job_id) == ("delivered", job_id)


async def test_a_callback_of_a_submission_the_job_went_on_without_is_charged(
    window: Window,
) -> None:
    job_id, spec = await window.job("toy_hook")
    await _die_in_window(window, job_id, spec)
    assert isinstance(await window.ops.submit(job_id, spec, 1), InDoubt)
    window.clock.now += WAIT_S
    resubmitted = await window.ops.submit(job_id, spec, 1)
    assert isinstance(resubmitted, Submitted)
    orphan, kept = window.vendor.billed
    assert resubmitted.handle.request_id == kept
    body = hook_body(orphan, cost_usd="0.015")
    answer = await window.callback("toy_hook", job_id, body)
    assert answer == {"received": True, "outcome": "late", "orphan": True, "job_id": job_id}
    # The same callback again (providers retry): charged once.
    await window.callback("toy_hook", job_id, body)
    first, charge = await window.reservations(job_id)
    assert resubmitted.reservation_id == first.id
    assert (charge.status, charge.actual_usd) == ("settled", Decimal("0.015"))
    assert charge.reason is not None
    assert charge.reason.startswith("billed twice")
    assert charge.scopes == (PROJECT,)
    assert window.engine.sent == []


async def test_a_callback_racing_a_resubmission_is_charged_by_the_step(window: Window) -> None:
    job_id, spec = await window.job("toy_hook")
    await _die_in_window(window, job_id, spec)
    [lost] = window.vendor.billed
    window.clock.now += WAIT_S

    async def lost_calls_back(_: object) -> None:
        # The lost submission's callback lands while the new one is being answered.
        window.vendor.on_accept = None
        answer = await window.callback("toy_hook", job_id, hook_body(lost))
        assert answer["adopted"] is True

    window.vendor.on_accept = lost_calls_back
    resubmitted = await window.ops.submit(job_id, spec, 1)
    assert isinstance(resubmitted, Submitted)
    assert resubmitted.handle.request_id != lost
    _, charge = await window.reservations(job_id)
    assert (charge.status, charge.actual_usd) == ("settled", PRICE)
    assert charge.reason is not None
    assert lost in charge.reason


async def test_the_jobs_own_callback_racing_its_record_is_delivered_not_charged(
    window: Window, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, spec = await window.job("toy_hook")
    submitted = await window.ops.submit(job_id, spec, 1)
    assert isinstance(submitted, Submitted)
    own = submitted.handle.request_id
    targets = window.services.catalog.webhook_events
    first_look = targets.target
    looks = 0

    async def before_the_record(*args: Any, **kwargs: Any) -> Any:
        # The callback's first look ran before the step recorded the request id.
        nonlocal looks
        looks += 1
        if looks == 1:
            raise NotFound("not yet recorded")
        return await first_look(*args, **kwargs)

    monkeypatch.setattr(targets, "target", before_the_record)
    answer = await window.callback("toy_hook", job_id, hook_body(own, cost_usd="0.015"))
    assert (answer["outcome"], answer["job_id"], looks) == ("delivered", job_id, 2)
    assert "orphan" not in answer
    [reservation] = await window.reservations(job_id)
    assert reservation.status == "active"
    [(workflow_id, message)] = window.engine.sent
    assert (workflow_id, message["request_id"]) == (f"job-{job_id}", own)


async def test_a_callback_for_no_window_of_ours_stays_unknown(window: Window) -> None:
    job_id, _ = await window.job("toy_hook")
    answer = await window.callback("toy_hook", job_id, hook_body("not-ours"))
    assert answer == {"received": True, "outcome": "unknown"}
    answer = await window.inbox.receive(
        "toy_hook", {}, hook_body("x"), query={"job": "nope", "attempt": "1"}
    )
    assert answer["outcome"] == "unknown"


async def test_a_synchronous_answer_is_stored_by_the_submit_step(window: Window) -> None:
    job_id, spec = await window.job("toy_sync")
    submitted = await window.ops.submit(job_id, spec, 1)
    assert isinstance(submitted, Submitted)
    assert submitted.result is not None
    [output] = submitted.result.outputs
    assert output.asset_id is not None
    job = await window.services.catalog.jobs.get(job_id)
    assert job.asset_ids == (output.asset_id,)
    # A new process holds nothing: the step, run again, finds the result in the catalog.
    again = await window.restarted().submit(job_id, spec, 1)
    assert isinstance(again, Submitted)
    assert again.result == submitted.result
    assert len(window.vendor.accepted) == 1


async def test_a_lost_synchronous_answer_is_settled_and_asked_again(window: Window) -> None:
    job_id, spec = await window.job("toy_sync")
    await _die_in_window(window, job_id, spec)
    again = await window.restarted().submit(job_id, spec, 1)
    assert isinstance(again, Submitted)
    assert again.result is not None
    assert len(window.vendor.accepted) == 2
    possible, current = await window.reservations(job_id)
    assert (possible.status, possible.actual_usd) == ("settled", PRICE)
    assert again.reservation_id == current.id
