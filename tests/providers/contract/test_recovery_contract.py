"""The contract every hosted adapter passes for crash recovery and paid results, against the
emulator: a held accept call (the submit window) is billed and recorded; an unreadable status or
result body is a passing glitch; output URLs can fail the ways downloads fail; a webhook URL's
query string survives the round trip; each adapter says whether it can look submissions up."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from fixtures.emulator import EmulatorControl
from providers.contract import contract_support as support
from providers.contract.contract_cases import ProviderCase
from providers.contract.contract_support import AdapterFactory, clip_request, settle, still_request
from reelforge.errors import ProviderTimeout, ProviderUnavailable
from reelforge.providers.base import (
    GenerationRequest,
    Provider,
    SubmissionLookup,
    Succeeded,
)

emulator_server = support.emulator_server
emulator = support.emulator
captured_logs = support.captured_logs
case = support.case
no_key_in_logs = support.no_key_in_logs
adapters = support.adapters
provider = support.provider


def polled_request(case: ProviderCase) -> GenerationRequest | None:
    """A request whose job the adapter polls the vendor for (None: the vendor has none)."""
    if case.queued:
        return still_request()
    return clip_request(case.video) if case.video is not None else None


async def test_a_held_accept_call_is_billed_and_the_hang_up_recorded(
    case: ProviderCase, adapters: AdapterFactory, emulator: EmulatorControl
) -> None:
    """A kill in the submit window: the vendor has the job (and bills it) while we have no
    answer. The ledger shows the hold and that the client went away during it."""
    await emulator.configure(latency_s=0.05, queue_s=0.01)
    await emulator.inject(case.id, case.operations["submit"], "hold_accept", delay_s=30)
    with pytest.raises(ProviderTimeout):
        await adapters(timeout_s=0.5).submit(still_request())

    def accept_calls(ledger: dict[str, Any]) -> list[dict[str, Any]]:
        # Only the accept call: an adapter may make calls of its own before it (uploads, checks).
        return [c for c in ledger["calls"] if c["operation"] == case.operations["submit"]]

    async with asyncio.timeout(10):
        while not (ledger := await emulator.ledger(case.id))["billed"] or not accept_calls(ledger):
            await asyncio.sleep(0.02)
    [call] = accept_calls(ledger)
    assert (call["operation"], call["fault"], call["client_gone"]) == (
        case.operations["submit"],
        "hold_accept",
        True,
    )
    assert [b["request_id"] for b in ledger["billed"]] == [call["request_id"]]


@pytest.mark.parametrize("operation", ["status", "result"])
async def test_an_unreadable_status_or_result_is_a_passing_glitch(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl, operation: str
) -> None:
    request = polled_request(case)
    name = case.operations.get(operation)
    if request is None or name is None:
        pytest.skip(f"{case.id} has no {operation} call to poll")
    if operation == "result" and name == case.operations["status"]:
        pytest.skip(f"{case.id} reads its result with its status call")
    handle = await provider.submit(request)
    if operation == "result":
        await settle(provider, handle)  # the result is fetched once the job has ended
    await emulator.inject(case.id, name, "malformed_json")
    with pytest.raises(ProviderUnavailable) as raised:
        await provider.result(handle)
    assert raised.value.retryable
    assert raised.value.provider == case.id
    assert raised.value.details["reason"] == "malformed_body"
    state, _ = await settle(provider, handle)
    assert isinstance(state, Succeeded), state


async def test_output_urls_fail_as_downloads_do(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    if not case.output_urls:
        pytest.skip(f"{case.id} returns its outputs as bytes")
    handle = await provider.submit(still_request())
    state, _ = await settle(provider, handle)
    assert isinstance(state, Succeeded)
    url = str(state.outputs[0].url)
    async with httpx.AsyncClient(trust_env=False) as http:
        whole = (await http.get(url)).content
        await emulator.inject(case.id, "file", "http_404")
        assert (await http.get(url)).status_code == 404
        await emulator.inject(case.id, "file", "short")
        assert (await http.get(url)).content == whole[: len(whole) // 2]
        await emulator.inject(case.id, "file", "truncated")
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url)
        assert (await http.get(url)).content == whole
    faults = [c["fault"] for c in (await emulator.ledger(case.id))["calls"] if c["fault"]]
    assert faults == ["http_404", "short", "truncated"]


async def test_a_webhook_url_with_a_query_string_comes_back_intact(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    if case.verify_webhook is None:
        pytest.skip(f"{case.id} sends no webhooks")
    box = f"{case.id}-{uuid.uuid4().hex}"
    query = "job=J-42&attempt=2"
    handle = await provider.submit(still_request(webhook_url=f"{emulator.inbox_url(box)}?{query}"))
    [delivery] = await emulator.wait_for_inbox(box, 1)
    assert delivery.query == query
    await case.verify_webhook(provider, delivery.headers, delivery.body)
    event = provider.parse_webhook(delivery.headers, delivery.body)
    assert event is not None
    assert event.request_id == handle.request_id


async def test_looking_a_submission_up_is_declared_and_works(
    case: ProviderCase, provider: Provider
) -> None:
    assert provider.finds_submissions is case.finds_submissions
    request = still_request()
    assert provider.can_find_submission(request) is case.finds_submissions
    intent = time.time()
    handle = await provider.submit(request)
    await settle(provider, handle)  # fal lists a request once it has ended
    found = await provider.find_submissions(SubmissionLookup(request, intent))
    expected = [handle.request_id] if case.finds_submissions else []
    assert [h.request_id for h in found] == expected
