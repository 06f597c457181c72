"""The Google adapter: bodies, prices, parsing, errors, and the paths the contract suite does not
take (Imagen, Veo failures, the key staying on our host)."""

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
from reelforge.errors import (
    ConfigurationError,
    ContentRejected,
    InvalidInput,
    MissingCredential,
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
    Running,
    Succeeded,
)
from reelforge.providers.google import (
    GoogleError,
    GoogleProvider,
    GoogleSettings,
    google_error,
    parse_operation,
)
from reelforge.providers.google.models import (
    GoogleOptions,
    build_body,
    parse_generated_content,
    parse_predictions,
)
from reelforge.providers.google.wire import RpcStatus, VideoSamples

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

KEY = "gemini-unit-key-71c0"
PNG = b"\x89PNG\r\n\x1a\nrest"


def provider(http: httpx.AsyncClient | None = None, **settings: Any) -> GoogleProvider:
    deps = ProviderDeps(http=http or httpx.AsyncClient(), environ={"GEMINI_API_KEY": KEY})
    return GoogleProvider(GoogleSettings(**settings), deps)


def still(**fields: Any) -> GenerationRequest:
    return GenerationRequest(Capability.TEXT_TO_IMAGE, "p", width=1024, height=576, **fields)


def clip(seconds: float = 5.0, **fields: Any) -> GenerationRequest:
    images = (InputImage(content_type="image/png", data=PNG),)
    return GenerationRequest(
        Capability.IMAGE_TO_VIDEO, "p", duration_s=seconds, images=images, **fields
    )


@pytest.fixture
async def emulated(emulator: EmulatorControl) -> AsyncIterator[GoogleProvider]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield provider(http, base_url=f"{emulator.base_url}/google", timeout_s=5.0)


async def settle(adapter: GoogleProvider, handle: JobHandle) -> Any:
    async with asyncio.timeout(10):
        while isinstance(state := await adapter.status(handle), Running):
            await asyncio.sleep(0.05)
    return state


def test_bodies_per_family() -> None:
    family, body = build_body("gemini-2.5-flash-image", still(seed=3), GoogleOptions())
    assert family == "gemini"
    assert body["contents"][0]["parts"] == [{"text": "p"}]
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}
    assert body["generationConfig"]["seed"] == 3
    options = GoogleOptions(number_of_images=2, person_generation="allow_adult")
    family, body = build_body("imagen-4.0-generate-001", still(), options)
    assert family == "imagen"
    assert body["instances"] == [{"prompt": "p"}]
    assert body["parameters"]["sampleCount"] == 2
    assert body["parameters"]["personGeneration"] == "allow_adult"
    family, body = build_body("veo-3.1-generate-preview", clip(5.0), GoogleOptions())
    assert family == "veo"
    image = body["instances"][0]["image"]
    assert image == {"bytesBase64Encoded": base64.b64encode(PNG).decode(), "mimeType": "image/png"}
    assert body["parameters"] == {
        "sampleCount": 1,
        "durationSeconds": 6,
        "aspectRatio": "16:9",
        "resolution": "720p",
    }
    _, veo2 = build_body("veo-2.0-generate-001", clip(3.0), GoogleOptions())
    assert veo2["parameters"]["durationSeconds"] == 5
    assert "resolution" not in veo2["parameters"]


def test_requests_a_family_cannot_serve_are_refused() -> None:
    with pytest.raises(InvalidInput):
        build_body("veo-3.1-generate-preview", still(), GoogleOptions())
    with pytest.raises(InvalidInput):
        build_body("gemini-2.5-flash-image", clip(), GoogleOptions())
    edit = GenerationRequest(
        Capability.IMAGE_TO_IMAGE,
        "p",
        images=(InputImage(content_type="image/png", url="https://x/a.png"),),
    )
    with pytest.raises(InvalidInput, match="bytes"):
        build_body("gemini-2.5-flash-image", edit, GoogleOptions())
    with_bytes = GenerationRequest(
        Capability.IMAGE_TO_IMAGE, "p", images=(InputImage(content_type="image/png", data=PNG),)
    )
    with pytest.raises(InvalidInput, match="Imagen"):
        build_body("imagen-4.0-generate-001", with_bytes, GoogleOptions())
    with pytest.raises(InvalidInput):
        provider().check_request(still(options={"sample_count": 2}))


@pytest.mark.parametrize(
    ("request_", "amount"),
    [
        (still(), Decimal("0.039")),
        (still(model="imagen-4.0-fast-generate-001"), Decimal("0.02")),
        (still(model="imagen-4.0-ultra-generate-001", options={"number_of_images": 2}), "0.12"),
        # The default clip model is Veo 3.1 Fast; Veo 3.1 by name. Veo rounds 5 s up to 6.
        (clip(5.0), Decimal("0.90")),
        (clip(5.0, model="veo-3.1-generate-preview"), Decimal("2.40")),
        (clip(4.0, model="veo-3.1-fast-generate-preview"), Decimal("0.60")),
    ],
)
def test_cost_follows_the_price_facts(request_: GenerationRequest, amount: Any) -> None:
    estimate = provider().estimate_cost(request_)
    assert estimate.amount_usd == Decimal(amount)
    assert "202" in estimate.basis


def test_unknown_model_needs_a_price_setting() -> None:
    with pytest.raises(ConfigurationError):
        provider().estimate_cost(clip(model="veo-9.0-generate-preview"))
    priced = provider(prices={"veo-9.0-generate-preview": {"unit": "second", "usd": "0.35"}})
    assert priced.estimate_cost(clip(6.0, model="veo-9.0-generate-preview")).amount_usd == Decimal(
        "2.10"
    )


def test_the_spec_veo_models_are_priced_by_their_family() -> None:
    # The cutscenes spec's video model (issue #20), and Veo 2 (5-8 s, no 4/6/8 steps).
    assert provider().estimate_cost(clip(6.0, model="veo-3.0-generate-preview")).amount_usd == (
        Decimal("2.40")
    )
    assert provider().estimate_cost(clip(4.0, model="veo-3.0-generate-001")).amount_usd == (
        Decimal("1.60")
    )
    assert provider().estimate_cost(clip(6.0, model="veo-2.0-generate-001")).amount_usd == (
        Decimal("2.10")
    )


def test_generated_content_parsing() -> None:
    png = base64.b64encode(PNG).decode()
    parts = [{"text": "here"}, {"inlineData": {"mimeType": "image/png", "data": png}}]
    outputs, extra = parse_generated_content(
        {"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]}
    )
    assert (outputs[0].data, outputs[0].content_type) == (PNG, "image/png")
    assert extra == {"finish_reasons": ["STOP"], "text": "here"}
    with pytest.raises(ContentRejected):
        parse_generated_content({"promptFeedback": {"blockReason": "SAFETY"}})
    with pytest.raises(ContentRejected):
        parse_generated_content({"candidates": [{"finishReason": "IMAGE_SAFETY"}]})
    with pytest.raises(GoogleError):
        parse_generated_content({"candidates": [{"content": {"parts": [{"text": "no"}]}}]})


def test_prediction_parsing() -> None:
    png = base64.b64encode(PNG).decode()
    outputs, extra = parse_predictions(
        {"predictions": [{"bytesBase64Encoded": png}, {"raiFilteredReason": "filtered"}]}
    )
    assert len(outputs) == 1
    assert extra == {"rai_filtered_reasons": ["filtered"]}
    with pytest.raises(ContentRejected):
        parse_predictions({"predictions": [{"raiFilteredReason": "filtered"}]})
    with pytest.raises(GoogleError):
        parse_predictions({})


def test_operation_parsing() -> None:
    name = "models/veo-3.1-generate-preview/operations/abc1"
    assert parse_operation({"name": name}) == Running()
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123:download?alt=media"
    answer = {"generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]}}
    done = {"done": True, "response": answer}
    samples = parse_operation(done)
    assert isinstance(samples, VideoSamples)
    assert samples.videos == ((uri, None, None),)
    filtered = parse_operation(
        {
            "done": True,
            "response": {"generateVideoResponse": {"raiMediaFilteredCount": 1}},
        }
    )
    assert isinstance(filtered, Failed)
    assert isinstance(filtered.error, ContentRejected)
    failed = parse_operation({"done": True, "error": {"code": 8, "message": "quota"}})
    assert isinstance(failed, Failed)
    assert isinstance(failed.error, ProviderRateLimited)
    assert isinstance(parse_operation({"done": True, "error": {"code": 1}}), Canceled)


def rpc(status: int, name: str, message: str = "m", *details: Any) -> httpx.Response:
    error = {"code": status, "message": message, "status": name, "details": list(details)}
    return httpx.Response(status, json={"error": error})


def test_error_translation_table() -> None:
    assert isinstance(google_error("x", httpx.ReadTimeout("t")), ProviderTimeout)
    assert isinstance(google_error("x", httpx.ConnectError("c")), ProviderUnavailable)
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "27s"}
    limited = google_error("x", rpc(429, "RESOURCE_EXHAUSTED", "quota", retry))
    assert isinstance(limited, ProviderRateLimited)
    assert limited.retry_after == 27
    assert isinstance(google_error("x", rpc(400, "INVALID_ARGUMENT")), ProviderRejectedInput)
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
    bad_key = google_error("x", rpc(400, "INVALID_ARGUMENT", "API key not valid", info))
    assert type(bad_key) is GoogleError
    assert "GEMINI_API_KEY" in bad_key.message
    assert "GEMINI_API_KEY" in google_error("x", rpc(403, "PERMISSION_DENIED")).message
    unsafe = google_error("x", rpc(400, "INVALID_ARGUMENT", "violates Responsible AI practices"))
    assert isinstance(unsafe, ContentRejected)
    assert isinstance(google_error("x", rpc(503, "UNAVAILABLE")), ProviderUnavailable)
    assert isinstance(google_error("x", httpx.Response(502, text="<html>")), ProviderUnavailable)
    assert isinstance(google_error("x", rpc(504, "DEADLINE_EXCEEDED")), ProviderTimeout)
    assert type(google_error("x", rpc(404, "NOT_FOUND"))) is GoogleError
    assert type(google_error("x", RpcStatus("odd"))) is GoogleError


async def test_the_key_goes_only_to_our_host_and_never_in_a_url() -> None:
    seen: list[tuple[str, str | None]] = []
    name = "models/veo-3.1-generate-preview/operations/op1"

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("x-goog-api-key")))
        if request.url.path.endswith(":predictLongRunning"):
            return httpx.Response(200, json={"name": name})
        if request.url.path.endswith(":download"):
            return httpx.Response(200, content=b"....ftyp", headers={"content-type": "video/mp4"})
        uri = "https://collector.example/v1beta/files/f00d1:download?alt=media"
        sample = {"video": {"uri": uri}}
        body = {"generateVideoResponse": {"generatedSamples": [sample]}}
        return httpx.Response(200, json={"name": name, "done": True, "response": body})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        adapter = provider(http)
        handle = await adapter.submit(clip())
        state = await adapter.status(handle)
    assert isinstance(state, Succeeded)
    assert state.outputs[0].data == b"....ftyp"
    root = "https://generativelanguage.googleapis.com/v1beta"
    assert [url for url, _ in seen] == [
        f"{root}/models/veo-3.1-fast-generate-preview:predictLongRunning",
        f"{root}/{name}",
        f"{root}/files/f00d1:download?alt=media",
    ]
    assert all(key == KEY for _, key in seen)
    assert all(KEY not in url for url, _ in seen)


async def test_a_still_unknown_to_this_process_is_failed() -> None:
    state = await provider().status(JobHandle("google", "r-unknown", "gemini-2.5-flash-image"))
    assert isinstance(state, Failed)
    assert "submit it again" in state.error.message


async def test_imagen_stays_selectable_by_model_id(
    emulated: GoogleProvider, emulator: EmulatorControl
) -> None:
    result = await emulated.run(
        still(model="imagen-4.0-generate-001", options={"number_of_images": 2})
    )
    assert len(result.outputs) == 2
    assert all(o.data is not None and o.data.startswith(b"\x89PNG") for o in result.outputs)
    assert result.cost_usd == Decimal("0.08")
    billed = (await emulator.ledger("google"))["billed"]
    assert [(b["units"], b["amount_usd"]) for b in billed] == [(2, "0.08")]


async def test_imagen_filtered_prompt_is_content_rejected(
    emulated: GoogleProvider, emulator: EmulatorControl
) -> None:
    await emulator.inject("google", "predict", "content_rejected")
    with pytest.raises(ContentRejected):
        await emulated.run(still(model="imagen-4.0-generate-001"))


@pytest.mark.parametrize(
    ("kind", "expected"), [("content_rejected", ContentRejected), ("failed", ProviderUnavailable)]
)
async def test_veo_failures_are_failed_states(
    emulated: GoogleProvider, emulator: EmulatorControl, kind: str, expected: type[Exception]
) -> None:
    await emulator.inject("google", "generate", kind)
    handle = await emulated.submit(clip(4.0))
    assert handle.request_id.startswith("models/veo-3.1-fast-generate-preview/operations/")
    state = await settle(emulated, handle)
    assert isinstance(state, Failed)
    assert isinstance(state.error, expected)
    assert (await emulator.ledger("google"))["billed"] == []


async def test_veo_submit_refused_for_safety(
    emulated: GoogleProvider, emulator: EmulatorControl
) -> None:
    await emulator.inject("google", "predict_long_running", "content_rejected")
    with pytest.raises(ContentRejected):
        await emulated.submit(clip())


async def test_run_refuses_video(emulated: GoogleProvider) -> None:
    with pytest.raises(InvalidInput, match="long-running"):
        await emulated.run(clip())


async def test_missing_key_is_reported_before_any_call(emulator: EmulatorControl) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        adapter = GoogleProvider(
            GoogleSettings(base_url=f"{emulator.base_url}/google"),
            ProviderDeps(http=http, environ={}),
        )
        with pytest.raises(MissingCredential, match="GEMINI_API_KEY"):
            await adapter.submit(still())
    assert (await emulator.ledger("google"))["calls"] == []
