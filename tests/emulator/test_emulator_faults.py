"""The emulator's submit-window and output-file faults: hold_accept, http_404, truncated, short,
and what the ledger records of them; and webhook URLs whose query string must arrive intact."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

FAL = {"Authorization": "Key faults-test-key"}
GOOGLE = {"x-goog-api-key": "faults-test-key"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as client:
        yield client


async def fal_output(http: httpx.AsyncClient, emulator: EmulatorControl) -> str:
    """A finished fal job's output URL."""
    handle = (
        await http.post(
            f"{emulator.base_url}/fal/queue/fal-ai/flux/dev", json={"prompt": "p"}, headers=FAL
        )
    ).json()
    while (await http.get(handle["status_url"], headers=FAL)).status_code == 202:
        await asyncio.sleep(0.02)
    url: str = (await http.get(handle["response_url"], headers=FAL)).json()["images"][0]["url"]
    return url


async def download(
    http: httpx.AsyncClient, url: str, into: bytearray, answers: list[httpx.Response]
) -> None:
    """Stream ``url`` into ``into``, keeping the response (its head) in ``answers``."""
    async with http.stream("GET", url) as response:
        answers.append(response)
        async for chunk in response.aiter_raw():
            into += chunk


async def billed(emulator: EmulatorControl, provider: str, count: int) -> list[dict[str, Any]]:
    """The provider's billed generations once there are ``count`` (fails after 10 s)."""
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while len(found) < count:
            found = (await emulator.ledger(provider))["billed"]
            await asyncio.sleep(0.02)
    return found


async def test_a_held_submit_creates_and_bills_the_job_and_records_the_hang_up(
    emulator: EmulatorControl,
) -> None:
    """The submit window: the job exists and is billed while its answer is held; the ledger
    shows the hold while it lasts, and that the client (killed here) went away during it."""
    await emulator.configure(latency_s=0.05, queue_s=0.01)
    await emulator.inject("fal", "submit", "hold_accept", delay_s=30)
    client = httpx.AsyncClient(trust_env=False, timeout=60)
    submit = asyncio.create_task(
        client.post(
            f"{emulator.base_url}/fal/queue/fal-ai/flux/dev", json={"prompt": "p"}, headers=FAL
        )
    )
    async with asyncio.timeout(10):
        while (await emulator.ledger("fal"))["providers"].get("fal", {}).get("holding") != 1:
            await asyncio.sleep(0.02)
    [bill] = await billed(emulator, "fal", 1)
    submit.cancel()  # the process dies in the window
    with contextlib.suppress(asyncio.CancelledError):
        await submit
    await client.aclose()
    async with asyncio.timeout(10):
        while not (ledger := await emulator.ledger("fal"))["calls"]:
            await asyncio.sleep(0.02)
    [call] = ledger["calls"]
    assert (call["operation"], call["status"], call["fault"]) == ("submit", 200, "hold_accept")
    assert call["client_gone"] is True
    assert call["request_id"] == bill["request_id"]
    assert ledger["providers"]["fal"]["holding"] == 0


async def test_a_held_answer_arrives_whole_once_the_hold_ends(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.inject("fal", "*", "hold_accept", delay_s=0.2)
    status_url = (
        await http.post(
            f"{emulator.base_url}/fal/queue/fal-ai/flux/dev", json={"prompt": "p"}, headers=FAL
        )
    ).json()["status_url"]
    await http.get(status_url, headers=FAL)
    calls = (await emulator.ledger("fal"))["calls"]
    assert [(c["operation"], c["fault"], c["client_gone"]) for c in calls] == [
        ("submit", "hold_accept", False),
        ("status", None, None),
    ]


async def test_a_refused_submit_is_not_held_and_leaves_the_rule_armed(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.inject("fal", "submit", "hold_accept", delay_s=30)
    refused = await http.post(
        f"{emulator.base_url}/fal/queue/fal-ai/flux/dev", json={}, headers=FAL
    )
    assert refused.status_code == 422
    config = await emulator.configure()
    assert [rule["kind"] for rule in config["armed"]] == ["hold_accept"]


async def test_submit_holds_a_synchronous_still_after_it_was_made_and_billed(
    emulator: EmulatorControl,
) -> None:
    """``submit`` names every accept call: Google's generateContent makes and bills the still,
    then holds the answer."""
    await emulator.inject("google", "submit", "hold_accept", delay_s=30)
    url = f"{emulator.base_url}/google/v1beta/models/gemini-2.5-flash-image:generateContent"
    body = {"contents": [{"parts": [{"text": "a harbour"}]}]}
    async with httpx.AsyncClient(trust_env=False, timeout=0.5) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(url, json=body, headers=GOOGLE)
    await billed(emulator, "google", 1)
    async with asyncio.timeout(10):
        while not (calls := (await emulator.ledger("google"))["calls"]):
            await asyncio.sleep(0.02)
    assert [(c["operation"], c["fault"], c["client_gone"]) for c in calls] == [
        ("generate_content", "hold_accept", True)
    ]


async def test_an_output_url_that_answers_404_then_serves_the_file(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    url = await fal_output(http, emulator)
    await emulator.inject("fal", "file", "http_404", count=2)
    assert [(await http.get(url)).status_code for _ in range(3)] == [404, 404, 200]
    calls = [c for c in (await emulator.ledger("fal"))["calls"] if c["operation"] == "file"]
    assert [(c["status"], c["fault"]) for c in calls] == [(404, "http_404"), (404, "http_404")]
    assert calls[0]["request_id"] in url


async def test_a_truncated_download_announces_the_whole_file_and_hangs_up(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    url = await fal_output(http, emulator)
    whole = (await http.get(url)).content
    await emulator.inject("fal", "file", "truncated")
    received = bytearray()
    answers: list[httpx.Response] = []
    with pytest.raises(httpx.RemoteProtocolError):
        await download(http, url, received, answers)
    [answer] = answers
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(whole)
    assert bytes(received) == whole[: len(whole) // 2]
    [call] = [c for c in (await emulator.ledger("fal"))["calls"] if c["operation"] == "file"]
    assert call["fault"] == "truncated"


async def test_a_short_download_is_a_complete_answer_with_half_the_file(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    url = await fal_output(http, emulator)
    whole = (await http.get(url)).content
    await emulator.inject("fal", "file", "short")
    response = await http.get(url)
    assert response.status_code == 200
    assert response.content == whole[: len(whole) // 2]
    assert (await http.get(url)).content == whole


async def test_file_faults_hit_only_their_provider_and_only_files(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    url = await fal_output(http, emulator)
    await emulator.inject("replicate", "file", "http_404")
    await emulator.inject("fal", "*", "http_500")  # an API fault: files are not API calls
    assert (await http.get(url)).status_code == 200
    await emulator.configure(faults=[{"provider": "fal", "operation": "file", "kind": "http_503"}])
    assert (await http.get(url)).status_code == 503


async def test_fault_rules_keep_to_their_operations(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    url = f"{emulator.base_url}/_emulator/config"
    for rule in (
        {"operation": "status", "kind": "http_404"},
        {"operation": "submit", "kind": "truncated"},
        {"operation": "file", "kind": "hold_accept"},
        {"operation": "generate", "kind": "hold_accept"},
        {"operation": "file", "kind": "malformed_json"},
    ):
        response = await http.post(url, json={"faults": [rule]})
        assert response.status_code == 422, rule


async def test_a_webhook_url_keeps_its_query_string(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    target = emulator.inbox_url("query") + "?job=J-1&attempt=2"
    await http.post(
        f"{emulator.base_url}/fal/queue/fal-ai/flux/dev",
        params={"fal_webhook": target},
        json={"prompt": "p"},
        headers=FAL,
    )
    [delivery] = await emulator.wait_for_inbox("query", 1)
    assert delivery.query == "job=J-1&attempt=2"
    [sent] = (await emulator.ledger("fal"))["webhooks"]
    assert sent["url"] == target
