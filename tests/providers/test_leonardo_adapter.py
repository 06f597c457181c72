"""The Leonardo adapter: bodies, configured prices, parsing, errors, upload, callbacks."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PIL import Image

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.errors import (
    ConfigurationError,
    ContentRejected,
    InvalidInput,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
    Unauthorized,
)
from reelforge.providers.base import (
    Capability,
    Failed,
    GenerationRequest,
    InputImage,
    JobHandle,
    ProviderDeps,
    Running,
    Succeeded,
)
from reelforge.providers.leonardo import (
    LeonardoError,
    LeonardoOptions,
    LeonardoProvider,
    LeonardoSettings,
    leonardo_error,
    parse_generation,
)
from reelforge.providers.leonardo.models import KINO_XL, image_body, video_body

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

KEY = "leonardo-unit-key-5a1e"
HOOK_KEY = "leonardo-hook-key-09bd"
PNG = b"\x89PNG\r\n\x1a\nrest"


def provider(http: httpx.AsyncClient | None = None, **settings: Any) -> LeonardoProvider:
    environ = {"LEONARDO_API_KEY": KEY, "LEONARDO_WEBHOOK_API_KEY": HOOK_KEY}
    deps = ProviderDeps(http=http or httpx.AsyncClient(), environ=environ)
    return LeonardoProvider(LeonardoSettings(**settings), deps)


def still(**fields: Any) -> GenerationRequest:
    return GenerationRequest(Capability.TEXT_TO_IMAGE, "p", width=1920, height=1080, **fields)


def clip(seconds: float = 5.0, image: InputImage | None = None, **fields: Any) -> GenerationRequest:
    image = image or InputImage(content_type="image/png", data=PNG)
    return GenerationRequest(
        Capability.IMAGE_TO_VIDEO, "p", duration_s=seconds, images=(image,), **fields
    )


@pytest.fixture
async def emulated(emulator: EmulatorControl) -> AsyncIterator[LeonardoProvider]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield provider(http, base_url=f"{emulator.base_url}/leonardo/api/rest/v1", timeout_s=5.0)


def test_bodies() -> None:
    body = image_body("leonardo-default", still(seed=5, negative_prompt="blur"), LeonardoOptions())
    assert body == {
        "prompt": "p",
        "num_images": 1,
        "width": 1536,
        "height": 864,
        "negative_prompt": "blur",
        "seed": 5,
    }
    custom = image_body("b24e16ff-model", still(), LeonardoOptions(alchemy=True, num_images=2))
    assert (custom["modelId"], custom["alchemy"], custom["num_images"]) == (
        "b24e16ff-model",
        True,
        2,
    )
    motion = video_body("MOTION2", clip(), LeonardoOptions(), "img-1", "UPLOADED")
    assert motion == {
        "imageId": "img-1",
        "imageType": "UPLOADED",
        "prompt": "p",
        "model": "MOTION2",
    }
    veo = video_body(
        "VEO3", clip(5.0), LeonardoOptions(resolution="RESOLUTION_720"), "i", "GENERATED"
    )
    assert (veo["duration"], veo["resolution"]) == (6, "RESOLUTION_720")
    assert video_body("KLING2_5", clip(7.0), LeonardoOptions(), "i", "GENERATED")["duration"] == 10


def test_prices_are_configured_or_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"prices\.image"):
        provider().estimate_cost(still())
    priced = provider(
        prices={
            "image": {"unit": "image", "usd": "0.012", "source": "plan rate, 2026"},
            "VEO3": {"unit": "second", "usd": "0.30", "source": "plan rate, 2026"},
            "video": {"unit": "video", "usd": "0.25"},
        }
    )
    two = priced.estimate_cost(still(options={"num_images": 2}))
    assert two.amount_usd == Decimal("0.024")
    assert "plan rate, 2026" in two.basis
    assert priced.estimate_cost(clip(8.0, model="VEO3")).amount_usd == Decimal("2.40")
    assert priced.estimate_cost(clip()).amount_usd == Decimal("0.25")
    with pytest.raises(InvalidInput):
        priced.estimate_cost(clip(model="gen4_turbo"))


def generation(status: str, images: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"generations_by_pk": {"id": "g1", "status": status, "generated_images": images or []}}


def test_generation_parsing() -> None:
    assert parse_generation(generation("PENDING"), model="m", video=False) == Running()
    failed = parse_generation(generation("FAILED"), model="m", video=False)
    assert isinstance(failed, Failed)
    assert type(failed.error) is LeonardoError
    done = parse_generation(
        generation("COMPLETE", [{"id": "a", "url": "https://cdn/a.jpg", "nsfw": False}]),
        model="m",
        video=False,
    )
    assert isinstance(done, Succeeded)
    assert done.outputs[0].url == "https://cdn/a.jpg"
    motion = [{"id": "v", "url": "https://cdn/v.jpg", "motionMP4URL": "https://cdn/v.mp4"}]
    video = parse_generation(generation("COMPLETE", motion), model="MOTION2", video=True)
    assert isinstance(video, Succeeded)
    assert (video.outputs[0].url, video.outputs[0].content_type) == (
        "https://cdn/v.mp4",
        "video/mp4",
    )
    no_clip = parse_generation(generation("COMPLETE", [{"url": "x"}]), model="MOTION2", video=True)
    assert isinstance(no_clip, Failed)
    flagged = [{"id": "a", "url": "https://cdn/a.jpg", "nsfw": True}]
    rejected = parse_generation(generation("COMPLETE", flagged), model="m", video=False)
    assert isinstance(rejected, Failed)
    assert isinstance(rejected.error, ContentRejected)
    allowed = parse_generation(
        generation("COMPLETE", flagged), model="m", video=False, reject_nsfw=False
    )
    assert isinstance(allowed, Succeeded)
    assert isinstance(parse_generation({"generations_by_pk": None}, model="m", video=False), Failed)


def error(
    status: int, message: str = "m", code: str = "unexpected", **headers: str
) -> httpx.Response:
    body = {"error": message, "path": "$", "code": code}
    return httpx.Response(status, json=body, headers=headers)


def test_error_translation_table() -> None:
    assert isinstance(leonardo_error("x", httpx.ReadTimeout("t")), ProviderTimeout)
    assert isinstance(leonardo_error("x", httpx.ConnectError("c")), ProviderUnavailable)
    limited = leonardo_error("x", error(429, **{"Retry-After": "3"}))
    assert isinstance(limited, ProviderRateLimited)
    assert limited.retry_after == 3
    refused = leonardo_error("x", error(401, "Invalid API key.", "invalid-jwt"))
    assert type(refused) is LeonardoError
    assert "LEONARDO_API_KEY" in refused.message
    assert isinstance(leonardo_error("x", error(400, "bad width")), ProviderRejectedInput)
    moderated = leonardo_error("x", error(400, "flagged", "content-moderation"))
    assert isinstance(moderated, ContentRejected)
    assert isinstance(leonardo_error("x", error(503)), ProviderUnavailable)
    assert isinstance(leonardo_error("x", error(504)), ProviderTimeout)
    assert type(leonardo_error("x", error(404))) is LeonardoError


async def settle(adapter: LeonardoProvider, handle: JobHandle) -> Any:
    async with asyncio.timeout(10):
        while isinstance(state := await adapter.status(handle), Running):
            await asyncio.sleep(0.05)
    return state


async def test_image_bytes_are_uploaded_then_animated(
    emulated: LeonardoProvider, emulator: EmulatorControl
) -> None:
    handle = await emulated.submit(clip())
    assert handle.model == "MOTION2"
    state = await settle(emulated, handle)
    assert isinstance(state, Succeeded)
    assert state.outputs[0].content_type == "video/mp4"
    calls = [c["operation"] for c in (await emulator.ledger("leonardo"))["calls"]]
    assert calls[:3] == ["upload_init_image", "upload", "create_image_to_video"]


async def test_an_image_leonardo_holds_needs_no_upload(
    emulated: LeonardoProvider, emulator: EmulatorControl
) -> None:
    handle = await emulated.submit(still())
    assert isinstance(await settle(emulated, handle), Succeeded)
    image_id = f"{handle.request_id}-0"
    await emulated.submit(clip(options={"image_id": image_id}))
    calls = [c["operation"] for c in (await emulator.ledger("leonardo"))["calls"]]
    assert "upload_init_image" not in calls


async def test_an_image_url_cannot_be_animated(emulated: LeonardoProvider) -> None:
    with pytest.raises(InvalidInput, match="image_id"):
        await emulated.submit(clip(image=InputImage(content_type="image/png", url="https://x/a")))


async def test_the_key_never_goes_to_the_upload_url() -> None:
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.url.path.endswith("/init-image"):
            fields = json.dumps({"key": "k", "policy": "p"})
            upload = {"id": "u1", "url": "https://bucket.example/up", "fields": fields}
            return httpx.Response(200, json={"uploadInitImage": upload})
        if request.url.host == "bucket.example":
            return httpx.Response(204)
        return httpx.Response(200, json={"motionVideoGenerationJob": {"generationId": "g-1"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        handle = await provider(http).submit(clip())
    assert handle.request_id == "g-1"
    assert seen[1] == ("https://bucket.example/up", None)
    assert seen[0][1] == seen[2][1] == f"Bearer {KEY}"


async def test_cancel_is_a_logged_no_op() -> None:
    await provider().cancel(JobHandle("leonardo", "g-1", "MOTION2"))


def callback(*, stamp_ms: int | None = None, status: str = "COMPLETE") -> bytes:
    images = [{"id": "i1", "url": "https://cdn/i1.jpg", "nsfw": False}]
    event = {
        "type": "image_generation.complete",
        "object": "generation",
        "timestamp": stamp_ms if stamp_ms is not None else int(time.time() * 1000),
        "api_version": "v1",
        "data": {"object": {"id": "gen-7", "status": status, "images": images}},
    }
    return json.dumps(event).encode()


def test_callbacks_are_verified_and_parsed() -> None:
    adapter = provider()
    body = callback()
    headers = {"Authorization": f"Bearer {HOOK_KEY}"}
    adapter.verify_webhook(headers, body)
    event = adapter.parse_webhook(headers, body)
    assert event.request_id == "gen-7"
    assert isinstance(event.state, Succeeded)
    assert event.state.outputs[0].url == "https://cdn/i1.jpg"

    def reason(headers: dict[str, str], body: bytes, adapter: LeonardoProvider = adapter) -> Any:
        with pytest.raises(Unauthorized) as raised:
            adapter.verify_webhook(headers, body)
        return raised.value.details["reason"]

    assert reason(headers, body) == "replayed"
    assert reason({}, callback()) == "missing_headers"
    assert reason({"Authorization": "Bearer wrong"}, callback()) == "bad_signature"
    assert reason(headers, callback(stamp_ms=1_000)) == "stale_timestamp"
    unkeyed = LeonardoProvider(
        LeonardoSettings(), ProviderDeps(http=httpx.AsyncClient(), environ={})
    )
    assert reason(headers, callback(), unkeyed) == "no_keys"
    failed = adapter.parse_webhook(headers, callback(status="FAILED"))
    assert isinstance(failed.state, Failed)


async def test_a_reference_is_uploaded_then_sent_as_a_character_reference(
    emulated: LeonardoProvider, emulator: EmulatorControl
) -> None:
    reference = InputImage(content_type="image/png", data=_png())
    handle = await emulated.submit(still(references=(reference,)))
    assert handle.model == KINO_XL  # Leonardo's default model takes no Character Reference
    assert not emulated.can_find_submission(still(references=(reference,)))
    calls = [c["operation"] for c in (await emulator.ledger("leonardo"))["calls"]]
    assert calls[:3] == ["upload_init_image", "upload", "create_generation"]
    body = image_body(KINO_XL, still(), LeonardoOptions(reference_strength="High"), ("up-1",))
    assert body["controlnets"] == [
        {
            "initImageId": "up-1",
            "initImageType": "UPLOADED",
            "preprocessorId": 133,
            "strengthType": "High",
        }
    ]
    priced = provider(prices={KINO_XL: {"unit": "image", "usd": "0.02"}})
    query_model = priced.estimate_cost(still(references=(reference,))).model
    assert query_model == KINO_XL


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()
