"""The Runway adapter: task bodies, credit prices, parsing, errors, cancel semantics, and the
emulator's version header, throttling and deletion."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.errors import (
    ConfigurationError,
    ContentRejected,
    InvalidInput,
    MediaTooLarge,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)
from reelforge.providers.base import (
    Canceled,
    Capability,
    Failed,
    GenerationRequest,
    InputImage,
    JobHandle,
    ProviderDeps,
    Queued,
    Running,
    Succeeded,
)
from reelforge.providers.runway import (
    RunwayError,
    RunwayProvider,
    RunwaySettings,
    parse_task,
    runway_error,
)
from reelforge.providers.runway.models import RunwayOptions, build_task
from reelforge.providers.runway.wire import RunwayFailure

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

KEY = "key_unit-test-secret"
PNG = b"\x89PNG"


def provider(http: httpx.AsyncClient | None = None, **settings: Any) -> RunwayProvider:
    deps = ProviderDeps(http=http or httpx.AsyncClient(), environ={"RUNWAYML_API_SECRET": KEY})
    return RunwayProvider(RunwaySettings(**settings), deps)


def clip(
    seconds: float = 4.0, width: int = 1280, height: int = 720, **fields: Any
) -> GenerationRequest:
    image = InputImage(content_type="image/png", data=PNG)
    return GenerationRequest(
        Capability.IMAGE_TO_VIDEO,
        "The camera pushes in",
        width=width,
        height=height,
        duration_s=seconds,
        images=(image,),
        **fields,
    )


def still(width: int = 1024, height: int = 576, **fields: Any) -> GenerationRequest:
    return GenerationRequest(
        Capability.TEXT_TO_IMAGE, "A harbour", width=width, height=height, **fields
    )


def test_video_and_image_bodies() -> None:
    options = RunwayOptions()
    path, body = build_task("gen4_turbo", clip(seed=5), options)
    assert path == "/v1/image_to_video"
    assert body == {
        "model": "gen4_turbo",
        "promptText": "The camera pushes in",
        "seed": 5,
        "promptImage": "data:image/png;base64," + base64.b64encode(PNG).decode(),
        "ratio": "1280:720",
        "duration": 5,
    }
    assert build_task("gen4_turbo", clip(7.0, 1024, 1024), options)[1]["duration"] == 10
    assert build_task("gen4_turbo", clip(7.0, 1024, 1024), options)[1]["ratio"] == "960:960"
    veo = build_task("veo3.1", clip(5.0, 720, 1280), RunwayOptions(audio=False))[1]
    assert (veo["duration"], veo["ratio"], veo["audio"]) == (6, "720:1280", False)
    assert build_task("gen4.5", clip(3.2), options)[1]["duration"] == 4
    moderated = RunwayOptions(public_figure_threshold="low", ratio="1584:672", duration=10)
    body = build_task("gen4_turbo", clip(), moderated)[1]
    assert body["contentModeration"] == {"publicFigureThreshold": "low"}
    assert (body["ratio"], body["duration"]) == ("1584:672", 10)
    path, image = build_task("gen4_image", still(), options)
    assert (path, image["ratio"]) == ("/v1/text_to_image", "1280:720")
    assert build_task("gen4_image", still(1920, 1080), options)[1]["ratio"] == "1920:1080"
    assert "promptImage" not in image


def test_inputs_runway_cannot_take_are_refused_before_sending() -> None:
    with pytest.raises(InvalidInput):
        build_task("gen4_turbo", clip().model_copy(update={"prompt": "x" * 1001}), RunwayOptions())
    big = InputImage(content_type="image/png", data=b"\0" * (4 * 1024 * 1024))
    with pytest.raises(MediaTooLarge):
        build_task("gen4_turbo", clip().model_copy(update={"images": (big,)}), RunwayOptions())
    with pytest.raises(InvalidInput):
        provider().check_request(clip(options={"ratio": "wide"}))
    with pytest.raises(InvalidInput):
        provider().check_request(
            GenerationRequest(Capability.IMAGE_TO_IMAGE, "p", images=clip().images)
        )


@pytest.mark.parametrize(
    ("request_", "amount"),
    [
        (clip(4.0), Decimal("0.25")),
        (clip(9.0), Decimal("0.50")),
        (still(), Decimal("0.05")),
        (still(1920, 1080), Decimal("0.08")),
        (still(model="gen4_image_turbo"), Decimal("0.02")),
    ],
)
def test_cost_is_credits_times_the_credit_price(
    request_: GenerationRequest, amount: Decimal
) -> None:
    estimate = provider().estimate_cost(request_)
    assert estimate.amount_usd == amount
    assert "credits" in estimate.basis
    assert "2026" in estimate.basis


def test_credit_price_and_unknown_models_come_from_settings() -> None:
    assert provider(credit_usd="0.02").estimate_cost(clip()).amount_usd == Decimal("0.50")
    with pytest.raises(ConfigurationError):
        provider().estimate_cost(clip(model="seedance2"))
    priced = provider(prices={"seedance2": {"unit": "second", "credits": "40"}})
    assert priced.estimate_cost(clip(model="seedance2")).amount_usd == Decimal("1.60")


@pytest.mark.parametrize(
    ("model", "options", "amount"),
    [
        ("gen4.5", {}, "0.48"),
        ("veo3", {}, "1.60"),
        ("veo3.1", {}, "1.60"),
        ("veo3.1", {"audio": False}, "0.80"),
        ("veo3.1_fast", {}, "0.60"),
        ("veo3.1_fast", {"audio": False}, "0.40"),
    ],
)
def test_the_reference_video_models_are_priced(
    model: str, options: dict[str, Any], amount: str
) -> None:
    # 4 s clips at Runway's published credit rates, $0.01 a credit.
    estimate = provider().estimate_cost(clip(model=model, options=options))
    assert estimate.amount_usd == Decimal(amount)
    assert "docs.dev.runwayml.com" in estimate.basis


def test_task_states() -> None:
    base = {"id": "t1", "createdAt": "2026-01-01T00:00:00.000Z"}
    assert parse_task(base | {"status": "PENDING"}, model="m") == Queued()
    assert parse_task(base | {"status": "THROTTLED"}, model="m") == Queued()
    assert parse_task(base | {"status": "RUNNING", "progress": 0.4}, model="m") == Running(0.4)
    assert parse_task(base | {"status": "RUNNING", "progress": 7}, model="m") == Running(1.0)
    done = parse_task(
        base | {"status": "SUCCEEDED", "output": ["https://x/v.mp4?sig=1"]}, model="m"
    )
    assert isinstance(done, Succeeded)
    assert (done.outputs[0].url, done.outputs[0].content_type) == (
        "https://x/v.mp4?sig=1",
        "video/mp4",
    )
    assert done.metadata.model == "m"
    assert done.metadata.extra["task_id"] == "t1"
    assert isinstance(parse_task(base | {"status": "CANCELLED"}, model="m"), Canceled)


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ({"status": "FAILED", "failureCode": "SAFETY.INPUT.TEXT"}, ContentRejected),
        ({"status": "FAILED", "failureCode": "SAFETY.OUTPUT.VIDEO"}, ContentRejected),
        ({"status": "FAILED", "failureCode": "INPUT_PREPROCESSING.SAFETY.TEXT"}, ContentRejected),
        ({"status": "FAILED", "failureCode": "ASSET.INVALID"}, ProviderRejectedInput),
        ({"status": "FAILED", "failureCode": "INTERNAL.BAD_OUTPUT.CODE01"}, RunwayError),
        ({"status": "FAILED", "failureCode": "INTERNAL"}, ProviderUnavailable),
        ({"status": "FAILED"}, RunwayError),
        ({"status": "SUCCEEDED", "output": []}, RunwayError),
        ({"status": "DONE"}, RunwayError),
    ],
)
def test_failed_tasks(task: dict[str, Any], expected: type[Exception]) -> None:
    state = parse_task(task | {"failure": "It failed."}, model="m")
    assert isinstance(state, Failed)
    assert type(state.error) is expected
    assert state.error.provider == "runway"


def test_error_translation_table() -> None:
    def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    assert isinstance(runway_error("x", httpx.ReadTimeout("t")), ProviderTimeout)
    assert isinstance(runway_error("x", httpx.ConnectError("c")), ProviderUnavailable)
    invalid = runway_error("x", answer(400, {"error": "Invalid ratio"}))
    assert isinstance(invalid, ProviderRejectedInput)
    assert "Invalid ratio" in invalid.message
    moderated = answer(400, {"error": "Flagged", "failureCode": "SAFETY.INPUT.IMAGE"})
    assert isinstance(runway_error("x", moderated), ContentRejected)
    refused = runway_error("x", answer(401, {"error": "Invalid API key."}))
    assert type(refused) is RunwayError
    assert "RUNWAYML_API_SECRET" in refused.message
    limited = runway_error("x", answer(429, {"error": "slow"}, **{"Retry-After": "3"}))
    assert isinstance(limited, ProviderRateLimited)
    assert limited.retry_after == 3
    for status in (502, 503, 504):
        assert isinstance(runway_error("x", answer(status)), ProviderUnavailable)
    assert type(runway_error("x", answer(404, {"error": "Task not found."}))) is RunwayError
    assert type(runway_error("x", RunwayFailure("odd"))) is RunwayError


# -- the wire, through a mock transport -------------------------------------------------------


async def test_headers_and_cancel_semantics() -> None:
    seen: list[httpx.Request] = []
    tasks = {"done": "SUCCEEDED", "live": "RUNNING"}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(200, json={"id": "live"})
        task_id = request.url.path.rsplit("/", 1)[-1]
        if request.method == "DELETE":
            tasks.pop(task_id)
            return httpx.Response(204)
        if task_id not in tasks:
            return httpx.Response(404, json={"error": "Task not found."})
        return httpx.Response(
            200, json={"id": task_id, "status": tasks[task_id], "output": ["https://x/a.mp4"]}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        adapter = provider(http, base_url="http://runway.test/")
        handle = await adapter.submit(clip(webhook_url="https://hooks.test/x"))
        finished = JobHandle(provider="runway", request_id="done", model="gen4_turbo")
        await adapter.cancel(finished)
        assert isinstance(await adapter.status(finished), Succeeded)
        await adapter.cancel(handle)
        assert isinstance(await adapter.status(handle), Canceled)
        await adapter.cancel(handle)
        unknown = JobHandle(provider="runway", request_id="gone", model="gen4_turbo")
        with pytest.raises(RunwayError):
            await adapter.status(unknown)
    assert all(r.headers["x-runway-version"] == "2024-11-06" for r in seen)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in seen)
    assert str(seen[0].url) == "http://runway.test/v1/image_to_video"
    assert "webhook" not in json.dumps(json.loads(seen[0].content))
    deletes = [r for r in seen if r.method == "DELETE"]
    assert [(str(r.url), r.headers["accept"]) for r in deletes] == [
        ("http://runway.test/v1/tasks/live", "*/*")
    ]
    assert provider().parse_webhook({}, b"{}") is None


# -- against the emulator ---------------------------------------------------------------------


@pytest.fixture
async def live(emulator: EmulatorControl) -> AsyncIterator[RunwayProvider]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield provider(http, base_url=f"{emulator.base_url}/runway")


async def test_emulator_needs_the_version_header(emulator: EmulatorControl) -> None:
    url = f"{emulator.base_url}/runway/v1/text_to_image"
    body = {"model": "gen4_image", "promptText": "x", "ratio": "1280:720"}
    async with httpx.AsyncClient(trust_env=False) as http:
        bare = await http.post(url, json=body, headers={"Authorization": "Bearer k"})
        old = await http.post(
            url, json=body, headers={"Authorization": "Bearer k", "X-Runway-Version": "2023-01-01"}
        )
    assert bare.status_code == old.status_code == 400
    assert "X-Runway-Version" in bare.json()["error"]


async def test_emulator_throttles_and_reports_progress(
    live: RunwayProvider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.5)
    handles = [await live.submit(still()) for _ in range(4)]
    async with httpx.AsyncClient(trust_env=False) as http:
        headers = {"Authorization": "Bearer k", "X-Runway-Version": "2024-11-06"}
        last = await http.get(
            f"{emulator.base_url}/runway/v1/tasks/{handles[-1].request_id}", headers=headers
        )
    assert last.json()["status"] == "THROTTLED"
    await asyncio.sleep(0.8)
    state = await live.status(handles[0])
    assert isinstance(state, Running)
    assert state.progress is not None
    assert 0 <= state.progress < 1


async def test_emulator_refusals_map_to_rejected_input(live: RunwayProvider) -> None:
    with pytest.raises(ProviderRejectedInput) as raised:
        await live.submit(clip(options={"ratio": "1920:1080"}))
    assert raised.value.details["http_status"] == 400
    with pytest.raises(ProviderRejectedInput):
        await live.submit(clip(model="gen4_turbo", options={"duration": 7}))


async def test_deleting_a_finished_task_forgets_it(
    live: RunwayProvider, emulator: EmulatorControl
) -> None:
    handle = await live.submit(clip())
    async with asyncio.timeout(10):
        while not isinstance(await live.status(handle), Succeeded):
            await asyncio.sleep(0.05)
    async with httpx.AsyncClient(trust_env=False) as http:
        headers = {"Authorization": "Bearer k", "X-Runway-Version": "2024-11-06"}
        url = f"{emulator.base_url}/runway/v1/tasks/{handle.request_id}"
        assert (await http.delete(url, headers=headers)).status_code == 204
        assert (await http.get(url, headers=headers)).status_code == 404
    ledger = await emulator.ledger("runway")
    assert ledger["billed"][0]["amount_usd"] == "0.25"
