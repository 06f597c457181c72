"""The contract every hosted adapter passes, run against the emulator on loopback.

Adapters are built through the real registry from settings that point them at the emulator, with
a dummy key in their environment. Every test also scans what was logged (structlog and stdlib
logging) and printed for that key.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from providers.contract import contract_support as support
from providers.contract.contract_cases import ProviderCase
from providers.contract.contract_support import (
    PNG_MAGIC,
    AdapterFactory,
    assert_no_key,
    clip_request,
    fetch,
    settle,
    still_request,
)
from reelforge.errors import (
    ContentRejected,
    MissingCredential,
    ProviderError,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    Unauthorized,
)
from reelforge.providers.base import (
    Canceled,
    Failed,
    JobHandle,
    Provider,
    Queued,
    Running,
    Succeeded,
)

emulator_server = support.emulator_server
emulator = support.emulator
captured_logs = support.captured_logs
case = support.case
no_key_in_logs = support.no_key_in_logs
adapters = support.adapters
provider = support.provider


# -- happy paths ------------------------------------------------------------------------------


async def test_queued_still_succeeds_and_is_billed_once(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.1)
    handle = await provider.submit(still_request())
    assert handle.provider == case.id
    state, seen = await settle(provider, handle)
    assert isinstance(state, Succeeded), state
    assert any(isinstance(s, Queued | Running) for s in seen) or not case.queued
    output = state.outputs[0]
    data = output.data if output.data is not None else await fetch(str(output.url))
    assert data.startswith(PNG_MAGIC)
    assert (await provider.result(handle)).outputs == state.outputs
    ledger = await emulator.ledger(case.id)
    assert [b["request_id"] for b in ledger["billed"]] == [handle.request_id]
    assert case.dummy_key not in repr(ledger)


async def test_queued_clip_is_an_mp4(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    if case.video is None:
        pytest.skip(f"{case.id} makes no video")
    handle = await provider.submit(clip_request(case.video))
    state, _ = await settle(provider, handle)
    assert isinstance(state, Succeeded), state
    output = state.outputs[0]
    data = output.data if output.data is not None else await fetch(str(output.url))
    assert data[4:8] == b"ftyp"


async def test_sync_run_succeeds(case: ProviderCase, provider: Provider) -> None:
    if case.run_sync is None:
        pytest.skip(f"{case.id} has no synchronous endpoint")
    result = await case.run_sync(provider, still_request())
    assert result.outputs
    assert result.cost_usd is not None
    assert result.cost_usd > 0 or case.free


def test_cost_estimate_is_positive_with_a_dated_basis(
    case: ProviderCase, provider: Provider
) -> None:
    estimate = provider.estimate_cost(still_request())
    assert estimate.provider == case.id
    if case.free:
        assert estimate.amount_usd == 0
        return
    assert estimate.amount_usd > 0
    assert any(str(year) in estimate.basis for year in range(2024, 2031))


# -- errors -----------------------------------------------------------------------------------

FAULTS: list[tuple[str, type[ProviderError] | None]] = [
    ("http_500", ProviderUnavailable),
    ("http_503", ProviderUnavailable),
    ("http_429", ProviderRateLimited),
    ("hang", ProviderTimeout),
    ("malformed_json", None),  # the vendor's own error
    ("invalid_input", ProviderRejectedInput),
    ("content_rejected", ContentRejected),
    ("http_401", None),
]


@pytest.mark.parametrize(("kind", "expected"), FAULTS, ids=[kind for kind, _ in FAULTS])
async def test_submit_fault_is_mapped(
    case: ProviderCase,
    adapters: AdapterFactory,
    emulator: EmulatorControl,
    kind: str,
    expected: type[ProviderError] | None,
) -> None:
    provider = adapters(timeout_s=0.5)
    expected = case.fault_overrides.get(kind, expected)
    await emulator.inject(case.id, case.operations["submit"], kind, retry_after=7)
    with pytest.raises(expected or case.vendor_error) as raised:
        await provider.submit(still_request())
    error = raised.value
    assert error.provider == case.id
    assert_no_key(case, error)
    if kind == "http_429":
        assert error.retry_after == 7
    if kind == "http_401" and case.key_env is not None:
        assert case.key_env in error.message
    if expected is not None and expected.retryable:
        assert error.retryable


@pytest.mark.parametrize(
    ("kind", "expected"), [("http_429", ProviderRateLimited), ("http_500", ProviderUnavailable)]
)
async def test_status_fault_is_mapped(
    case: ProviderCase,
    provider: Provider,
    emulator: EmulatorControl,
    kind: str,
    expected: type[ProviderError],
) -> None:
    if not case.queued:
        pytest.skip(f"{case.id} answers stills synchronously: status makes no call")
    handle = await provider.submit(still_request())
    await emulator.inject(case.id, case.operations["status"], kind)
    with pytest.raises(expected):
        await provider.status(handle)
    state, _ = await settle(provider, handle)
    assert isinstance(state, Succeeded)


@pytest.mark.parametrize(
    ("kind", "expected"), [("content_rejected", ContentRejected), ("failed", ProviderError)]
)
async def test_failed_generation_is_a_failed_state_and_not_billed(
    case: ProviderCase,
    provider: Provider,
    emulator: EmulatorControl,
    kind: str,
    expected: type[ProviderError],
) -> None:
    await emulator.inject(case.id, "generate", kind)
    if not case.queued:
        with pytest.raises(expected) as raised:
            await provider.submit(still_request())
        assert raised.value.provider == case.id
        assert (await emulator.ledger(case.id))["billed"] == []
        return
    state, _ = await settle(provider, await provider.submit(still_request()))
    assert isinstance(state, Failed), state
    assert isinstance(state.error, expected)
    assert state.error.provider == case.id
    with pytest.raises(expected):
        raise state.error
    assert (await emulator.ledger(case.id))["billed"] == []


async def test_missing_key_names_the_variable(case: ProviderCase, adapters: AdapterFactory) -> None:
    if case.key_env is None:
        pytest.skip(f"{case.id} takes no key")
    provider = adapters(environ={})
    with pytest.raises(MissingCredential) as raised:
        await provider.submit(still_request())
    assert case.key_env in raised.value.message


# -- cancel -----------------------------------------------------------------------------------


async def test_cancel_stops_the_job_unbilled_and_is_idempotent(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    if not case.cancels:
        # No cancel at the vendor: cancel is a no-op, the job runs on and says so truthfully.
        handle = await provider.submit(still_request())
        await provider.cancel(handle)
        await provider.cancel(handle)
        state, _ = await settle(provider, handle)
        assert isinstance(state, Succeeded), state
        return
    await emulator.configure(latency_s=5.0, queue_s=0.1)
    handle = await provider.submit(still_request())
    await provider.cancel(handle)
    state, _ = await settle(provider, handle)
    assert isinstance(state, Canceled), state
    await provider.cancel(handle)
    ledger = await emulator.ledger(case.id)
    assert ledger["billed"] == []
    assert ledger["providers"][case.id]["in_flight"] == 0


async def test_cancel_after_completion_is_harmless(case: ProviderCase, provider: Provider) -> None:
    handle = await provider.submit(still_request())
    state, _ = await settle(provider, handle)
    assert isinstance(state, Succeeded)
    await provider.cancel(handle)
    assert isinstance(await provider.status(handle), Succeeded)


# -- webhooks ---------------------------------------------------------------------------------


async def _delivered(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl, count: int = 1
) -> tuple[JobHandle, list[emulator_fixtures.InboxDelivery]]:
    if case.verify_webhook is None:
        pytest.skip(f"{case.id} sends no webhooks")
    box = f"{case.id}-{uuid.uuid4().hex}"
    handle = await provider.submit(still_request(webhook_url=emulator.inbox_url(box)))
    return handle, await emulator.wait_for_inbox(box, count)


async def test_webhook_is_accepted_and_parsed(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    handle, [delivery] = await _delivered(case, provider, emulator)
    assert case.verify_webhook is not None
    await case.verify_webhook(provider, delivery.headers, delivery.body)
    event = provider.parse_webhook(delivery.headers, delivery.body)
    assert event is not None
    assert event.provider == case.id
    assert event.request_id == handle.request_id
    assert isinstance(event.state, Succeeded)
    assert event.state.outputs


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("bad_signature", "bad_signature"), ("stale_timestamp", "stale_timestamp")],
)
async def test_webhook_is_refused(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl, kind: str, reason: str
) -> None:
    await emulator.inject(case.id, "webhook", kind)
    _, [delivery] = await _delivered(case, provider, emulator)
    assert case.verify_webhook is not None
    with pytest.raises(Unauthorized) as raised:
        await case.verify_webhook(provider, delivery.headers, delivery.body)
    assert raised.value.details["reason"] == reason


async def test_replayed_webhook_is_refused(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    await emulator.inject(case.id, "webhook", "duplicated")
    _, [first, again] = await _delivered(case, provider, emulator, count=2)
    assert first.body == again.body
    assert case.verify_webhook is not None
    await case.verify_webhook(provider, first.headers, first.body)
    with pytest.raises(Unauthorized) as raised:
        await case.verify_webhook(provider, again.headers, again.body)
    assert raised.value.details["reason"] == "replayed"


async def test_webhook_without_headers_is_refused(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    _, [delivery] = await _delivered(case, provider, emulator)
    assert case.verify_webhook is not None
    with pytest.raises(Unauthorized):
        await case.verify_webhook(provider, {}, delivery.body)
    tampered = delivery.body + b" "  # any changed byte; not every vendor's body has request_id
    with pytest.raises(Unauthorized):
        await case.verify_webhook(provider, delivery.headers, tampered)


async def test_emulator_keeps_up_with_concurrent_jobs(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.5, queue_s=0.1)
    handles = await asyncio.gather(*(provider.submit(still_request()) for _ in range(10)))
    states = await asyncio.gather(*(settle(provider, h) for h in handles))
    assert all(isinstance(state, Succeeded) for state, _ in states)
    summary = (await emulator.ledger(case.id))["providers"][case.id]
    assert summary["billed"] == 10
    assert summary["max_in_flight"] == 10
