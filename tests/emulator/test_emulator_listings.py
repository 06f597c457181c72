"""The vendors' listings of past jobs as the emulator serves them: fal's requests by endpoint
(ended requests only), Replicate's predictions (newest first, cursor), Leonardo's user and its
generations."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

FAL = {"Authorization": "Key listings-test-key"}
REPLICATE = {"Authorization": "Bearer r8_listings-test"}
LEONARDO = {"Authorization": "Bearer listings-test-key"}
LEONARDO_API = "/leonardo/api/rest/v1"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as client:
        yield client


async def fal_submit(http: httpx.AsyncClient, base_url: str, prompt: str) -> dict[str, Any]:
    response = await http.post(
        f"{base_url}/fal/queue/fal-ai/flux/dev", json={"prompt": prompt}, headers=FAL
    )
    body: dict[str, Any] = response.json()
    return body


async def fal_done(http: httpx.AsyncClient, handle: dict[str, Any]) -> None:
    while (await http.get(handle["status_url"], headers=FAL)).status_code == 202:
        await asyncio.sleep(0.02)


async def test_fal_lists_ended_requests_with_their_payloads(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.configure(latency_s=0.05, queue_s=0.01)
    done = await fal_submit(http, emulator.base_url, "ended")
    await fal_done(http, done)
    await emulator.configure(latency_s=30.0)
    await fal_submit(http, emulator.base_url, "still running")
    url = f"{emulator.base_url}/fal/api/v1/models/requests/by-endpoint"
    params = {"endpoint_id": "fal-ai/flux/dev", "expand": "payloads"}
    body = (await http.get(url, params=params, headers=FAL)).json()
    assert body["has_more"] is False
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert item["request_id"] == done["request_id"]
    assert item["endpoint_id"] == "fal-ai/flux/dev"
    assert item["status_code"] == 200
    assert item["json_input"] == {"prompt": "ended"}
    assert item["json_output"]["images"]
    assert {"sent_at", "started_at", "ended_at", "duration"} <= set(item)
    bare = (await http.get(url, params={"endpoint_id": "fal-ai/flux/dev"}, headers=FAL)).json()
    assert "json_input" not in bare["items"][0]
    other = {"endpoint_id": "fal-ai/flux/schnell"}
    assert (await http.get(url, params=other, headers=FAL)).json()["items"] == []
    later = {"endpoint_id": "fal-ai/flux/dev", "start": "2999-01-01T00:00:00Z"}
    assert (await http.get(url, params=later, headers=FAL)).json()["items"] == []
    assert (await http.get(url, headers=FAL)).status_code == 422
    assert (await http.get(url, params=params)).status_code == 401


async def test_fal_pages_with_a_cursor(emulator: EmulatorControl, http: httpx.AsyncClient) -> None:
    await emulator.configure(latency_s=0.02, queue_s=0.01, list_page_size=2)
    for n in range(5):
        await fal_done(http, await fal_submit(http, emulator.base_url, f"p{n}"))
    url = f"{emulator.base_url}/fal/api/v1/models/requests/by-endpoint"
    params = {"endpoint_id": "fal-ai/flux/dev"}
    seen: list[str] = []
    pages = 0
    while True:
        body = (await http.get(url, params=params, headers=FAL)).json()
        pages += 1
        seen += [item["request_id"] for item in body["items"]]
        if not body["has_more"]:
            break
        params = params | {"cursor": body["next_cursor"]}
    assert pages == 3
    assert len(set(seen)) == 5
    assert base64.b64decode(params["cursor"]) == b"3"


async def test_replicate_lists_predictions_newest_first_across_pages(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.configure(latency_s=30.0, queue_s=30.0, list_page_size=2)
    created = []
    for n in range(3):
        response = await http.post(
            f"{emulator.base_url}/replicate/v1/models/black-forest-labs/flux-dev/predictions",
            json={"input": {"prompt": f"p{n}"}},
            headers=REPLICATE,
        )
        created.append(response.json()["id"])
    url = f"{emulator.base_url}/replicate/v1/predictions"
    first = (await http.get(url, headers=REPLICATE)).json()
    assert first["previous"] is None
    assert [p["id"] for p in first["results"]] == created[::-1][:2]
    assert first["results"][0]["status"] == "starting"  # in flight, and listed
    assert first["results"][0]["input"] == {"prompt": "p2"}
    second = (await http.get(first["next"], headers=REPLICATE)).json()
    assert [p["id"] for p in second["results"]] == [created[0]]
    assert second["next"] is None
    future = {"created_after": "2999-01-01T00:00:00Z"}
    assert (await http.get(url, params=future, headers=REPLICATE)).json()["results"] == []
    bad = {"cursor": "not-a-cursor"}
    assert (await http.get(url, params=bad, headers=REPLICATE)).status_code == 400


async def test_leonardo_names_the_user_and_lists_its_generations(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    api = f"{emulator.base_url}{LEONARDO_API}"
    ids = []
    for n in range(3):
        body = {"prompt": f"p{n}", "width": 512, "height": 512, "negative_prompt": "blur"}
        answer = (await http.post(f"{api}/generations", json=body, headers=LEONARDO)).json()
        ids.append(answer["sdGenerationJob"]["generationId"])
    me = (await http.get(f"{api}/me", headers=LEONARDO)).json()
    user_id = me["user_details"][0]["user"]["id"]
    listed = (
        await http.get(
            f"{api}/generations/user/{user_id}", params={"offset": 1, "limit": 5}, headers=LEONARDO
        )
    ).json()["generations"]
    assert [g["id"] for g in listed] == ids[::-1][1:]
    assert listed[0]["prompt"] == "p1"
    assert listed[0]["negativePrompt"] == "blur"
    assert (listed[0]["imageWidth"], listed[0]["imageHeight"]) == (512, 512)
    stranger = (await http.get(f"{api}/generations/user/someone-else", headers=LEONARDO)).json()
    assert stranger == {"generations": []}
    calls = [c["operation"] for c in (await emulator.ledger("leonardo"))["calls"]]
    assert calls[-3:] == ["get_user", "list_generations", "list_generations"]
