"""fal's wire format as the emulator serves it (reference §1), spoken to in raw HTTP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

AUTH = {"Authorization": "Key wire-test-key"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0, headers=AUTH) as client:
        yield client


async def submit(
    http: httpx.AsyncClient, emulator: EmulatorControl, model: str = "fal-ai/flux/dev", **args: Any
) -> dict[str, Any]:
    response = await http.post(
        f"{emulator.base_url}/fal/queue/{model}", json=args or {"prompt": "p"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-fal-request-id"]
    body: dict[str, Any] = response.json()
    return body


async def until_completed(http: httpx.AsyncClient, handle: dict[str, Any]) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while (
            response := await http.get(handle["status_url"], params={"logs": "1"})
        ).status_code == 202:
            await asyncio.sleep(0.05)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_submit_status_result_shapes(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.configure(latency_s=0.4, queue_s=0.2)
    handle = await submit(http, emulator, prompt="p", output_format="png")
    assert handle["status"] == "IN_QUEUE"
    assert handle["queue_position"] == 0
    base = f"{emulator.base_url}/fal/queue/fal-ai/flux/requests/{handle['request_id']}"
    assert handle["response_url"] == base  # the sub-path /dev is dropped
    assert (handle["status_url"], handle["cancel_url"]) == (f"{base}/status", f"{base}/cancel")

    queued = await http.get(handle["status_url"])
    assert (queued.status_code, queued.json()["status"]) == (202, "IN_QUEUE")
    early = await http.get(handle["response_url"])
    assert early.status_code == 400
    await asyncio.sleep(0.25)
    running = await http.get(handle["status_url"], params={"logs": "true"})
    assert (running.status_code, running.json()["status"]) == (202, "IN_PROGRESS")
    assert running.json()["logs"][0]["message"]

    done = await until_completed(http, handle)
    assert done["status"] == "COMPLETED"
    assert done["metrics"]["inference_time"] > 0
    assert "error" not in done
    quiet = (await http.get(handle["status_url"], params={"logs": "0"})).json()
    assert quiet["logs"] is None

    result = (await http.get(handle["response_url"])).json()
    image = result["images"][0]
    assert (image["width"], image["height"], image["content_type"]) == (1024, 768, "image/png")
    assert result["has_nsfw_concepts"] == [False]
    file = await http.get(image["url"])
    assert file.headers["content-type"] == "image/png"
    assert len(file.content) == image["file_size"]


async def test_image_inputs_are_honoured(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"{emulator.base_url}/fal/run/fal-ai/flux/schnell",
        json={
            "prompt": "p",
            "image_size": {"width": 640, "height": 480},
            "num_images": 2,
            "sync_mode": True,
            "seed": 5,
        },
    )
    body = response.json()
    assert body["seed"] == 5
    assert len(body["images"]) == 2
    url = body["images"][0]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1])[:3] == b"\xff\xd8\xff"
    preset = await http.post(
        f"{emulator.base_url}/fal/run/fal-ai/flux/dev", json={"prompt": "p", "image_size": "square"}
    )
    assert preset.json()["images"][0]["width"] == 512


async def test_video_models_return_an_mp4(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    handle = await submit(
        http,
        emulator,
        "fal-ai/kling-video/v2.1/standard/image-to-video",
        prompt="p",
        image_url="https://example.com/a.png",
        duration="5",
    )
    await until_completed(http, handle)
    video = (await http.get(handle["response_url"])).json()["video"]
    assert video["content_type"] == "video/mp4"
    assert (await http.get(video["url"])).content[4:8] == b"ftyp"
    [billed] = (await emulator.ledger("fal"))["billed"]
    assert (billed["unit"], billed["units"]) == ("second", 5.0)


async def test_billing_follows_the_price_facts(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await http.post(
        f"{emulator.base_url}/fal/run/fal-ai/flux/dev",
        json={"prompt": "p", "image_size": {"width": 1920, "height": 1080}},
    )
    await http.post(
        f"{emulator.base_url}/fal/run/fal-ai/veo3.1/fast",
        json={"prompt": "p", "duration": "4s", "generate_audio": False},
    )
    flux, veo = (await emulator.ledger("fal"))["billed"]
    assert (flux["units"], Decimal(flux["amount_usd"])) == (3, Decimal("0.075"))
    assert Decimal(veo["amount_usd"]) == Decimal("0.80")


async def test_cancel_outcomes(emulator: EmulatorControl, http: httpx.AsyncClient) -> None:
    await emulator.configure(latency_s=5.0)
    handle = await submit(http, emulator)
    canceled = await http.put(handle["cancel_url"])
    assert (canceled.status_code, canceled.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    status = (await http.get(handle["status_url"])).json()
    assert (status["status"], status["error_type"]) == ("COMPLETED", "request_cancelled")
    assert (await http.put(handle["cancel_url"])).status_code == 202

    await emulator.configure(latency_s=0.0)
    finished = await submit(http, emulator)
    await until_completed(http, finished)
    late = await http.put(finished["cancel_url"])
    assert (late.status_code, late.json()) == (400, {"status": "ALREADY_COMPLETED"})
    unknown = await http.put(handle["cancel_url"].replace(handle["request_id"], "nope"))
    assert (unknown.status_code, unknown.json()) == (404, {"status": "NOT_FOUND"})
    wrong_app = await http.get(handle["status_url"].replace("/fal-ai/flux/", "/fal-ai/other/"))
    assert wrong_app.status_code == 404


async def test_credentials_and_input_are_checked(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    url = f"{emulator.base_url}/fal/queue/fal-ai/flux/dev"
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer x"},
        {"Authorization": "Key"},
    ):
        assert (await http.post(url, json={"prompt": "p"}, headers=headers)).status_code == 401
    missing = await http.post(url, json={"seed": 1})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "prompt"]
    i2v = await http.post(
        f"{emulator.base_url}/fal/queue/fal-ai/veo3.1/image-to-video", json={"prompt": "p"}
    )
    assert [d["loc"][1] for d in i2v.json()["detail"]] == ["image_url"]
    not_json = await http.post(url, content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    jwks = await http.get(
        f"{emulator.base_url}/fal/rest/.well-known/jwks.json", headers={"Authorization": ""}
    )
    assert jwks.json()["keys"][0]["crv"] == "Ed25519"


async def test_namespaced_apps_keep_their_namespace(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    handle = await submit(http, emulator, "workflows/studio/storyboard/draft", prompt="p")
    assert "/fal/queue/workflows/studio/storyboard/requests/" in handle["status_url"]
    await until_completed(http, handle)


async def test_fault_bodies_look_like_fal(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    url = f"{emulator.base_url}/fal/queue/fal-ai/flux/dev"
    await emulator.configure(
        faults=[
            {"provider": "fal", "operation": "submit", "kind": "http_503"},
            {"provider": "fal", "operation": "submit", "kind": "malformed_json"},
            {"provider": "fal", "operation": "submit", "kind": "content_rejected"},
            {"provider": "fal", "operation": "submit", "kind": "hang", "delay_s": 0.2},
        ]
    )
    ingress = await http.post(url, json={"prompt": "p"})
    assert ingress.status_code == 503
    assert "nginx" in ingress.text
    malformed = await http.post(url, json={"prompt": "p"})
    assert malformed.status_code == 200
    with pytest.raises(ValueError, match="Unterminated string"):
        malformed.json()
    rejected = await http.post(url, json={"prompt": "p"})
    assert rejected.json()["detail"][0]["type"] == "content_policy_violation"
    hung = await http.post(url, json={"prompt": "p"})
    assert (hung.status_code, hung.headers["x-fal-error-type"]) == (504, "request_timeout")


async def test_a_hang_outlasts_the_client(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.inject("fal", "status", "hang")
    handle = await submit(http, emulator)
    with pytest.raises(httpx.ReadTimeout):
        await http.get(handle["status_url"], timeout=0.3)


async def test_failed_generation_reports_error_and_fal_error_body(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.inject("fal", "generate", "content_rejected")
    await emulator.inject("fal", "generate", "failed")
    rejected, failed = await submit(http, emulator), await submit(http, emulator)
    status = await until_completed(http, rejected)
    assert status["error_type"] == "content_policy_violation"
    result = await http.get(rejected["response_url"])
    assert (result.status_code, result.json()["detail"][0]["type"]) == (
        422,
        "content_policy_violation",
    )
    assert (await until_completed(http, failed))["error_type"] == "runner_disconnected"
    assert (await http.get(failed["response_url"])).status_code == 503
    assert (await emulator.ledger("fal"))["billed"] == []
