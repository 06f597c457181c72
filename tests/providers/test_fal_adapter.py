"""The fal adapter's pieces that need no server: settings, arguments, prices, parsing, errors."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import httpx
import pytest

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
    Canceled,
    Capability,
    Failed,
    GenerationRequest,
    InputImage,
    ProviderDeps,
    Queued,
    Running,
)
from reelforge.providers.fal import FalError, FalProvider, FalSettings, fal_error, parse_status
from reelforge.providers.fal.models import FalOptions, build_arguments, parse_outputs
from reelforge.providers.fal.wire import Completed, FalFailure


def provider(**settings: Any) -> FalProvider:
    deps = ProviderDeps(http=httpx.AsyncClient(), environ={"FAL_KEY": "k"})
    return FalProvider(FalSettings(**settings), deps)


def still(width: int = 1024, height: int = 576, **fields: Any) -> GenerationRequest:
    return GenerationRequest(Capability.TEXT_TO_IMAGE, "p", width=width, height=height, **fields)


def clip(seconds: float, model: str | None = None, **fields: Any) -> GenerationRequest:
    image = InputImage(content_type="image/png", data=b"\x89PNG")
    return GenerationRequest(
        Capability.IMAGE_TO_VIDEO, "p", duration_s=seconds, images=(image,), model=model, **fields
    )


def test_hosts_default_to_fal_and_follow_base_url() -> None:
    default = FalSettings()
    assert default.host("queue") == "https://queue.fal.run"
    assert default.host("run") == "https://fal.run"
    assert default.host("jwks") == "https://rest.fal.ai/.well-known/jwks.json"
    rooted = FalSettings(base_url="http://127.0.0.1:1/fal/", run_base_url="http://run.test/")
    assert rooted.host("queue") == "http://127.0.0.1:1/fal/queue"
    assert rooted.host("run") == "http://run.test"
    assert rooted.host("jwks") == "http://127.0.0.1:1/fal/rest/.well-known/jwks.json"


@pytest.mark.parametrize(
    ("request_", "amount"),
    [
        (still(), Decimal("0.025")),
        (still(1920, 1080), Decimal("0.075")),
        (still(options={"num_images": 2}), Decimal("0.05")),
        (still(model="fal-ai/flux-pro/v1.1"), Decimal("0.04")),
        (clip(4.0), Decimal("0.80")),
        (clip(5.0), Decimal("1.20")),
        (clip(4.0, options={"generate_audio": True}), Decimal("1.60")),
        (clip(4.0, options={"resolution": "4k"}), Decimal("1.60")),
        (clip(6.0, "fal-ai/veo3.1/fast/image-to-video"), Decimal("0.60")),
        (clip(6.0, "fal-ai/veo3.1/fast", options={"generate_audio": True}), Decimal("0.90")),
        # Kling clips are 5 or 10 s.
        (clip(4.0, "fal-ai/kling-video/v2.1/standard/image-to-video"), Decimal("0.28")),
        (clip(8.0, "fal-ai/kling-video/v2.1/pro/image-to-video"), Decimal("0.98")),
        (clip(5.0, "fal-ai/kling-video/v2.1/master/image-to-video"), Decimal("1.40")),
        (clip(5.0, "fal-ai/kling-video/v2.5-turbo/pro/image-to-video"), Decimal("0.35")),
    ],
)
def test_cost_follows_the_price_facts(request_: GenerationRequest, amount: Decimal) -> None:
    estimate = provider().estimate_cost(request_)
    assert estimate.amount_usd == amount
    assert "2026" in estimate.basis or "2025" in estimate.basis


def test_unknown_model_needs_a_price_setting() -> None:
    with pytest.raises(ConfigurationError):
        provider().estimate_cost(still(model="someone/new-model"))
    priced = provider(prices={"someone/new-model": {"unit": "image", "usd": "0.01"}})
    assert priced.estimate_cost(still(model="someone/new-model")).amount_usd == Decimal("0.01")


def test_unknown_options_are_refused() -> None:
    with pytest.raises(InvalidInput):
        provider().check_request(still(options={"num_steps": 3}))


def test_arguments_per_model_family() -> None:
    options = FalOptions()
    args = build_arguments("fal-ai/flux/dev", still(seed=4, steps=20), options)
    assert args == {
        "prompt": "p",
        "seed": 4,
        "image_size": {"width": 1024, "height": 576},
        "num_images": 1,
        "output_format": "png",
        "num_inference_steps": 20,
    }
    veo = build_arguments("fal-ai/veo3.1/image-to-video", clip(5.0), options)
    assert veo["duration"] == "6s"
    assert veo["image_url"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    assert (veo["aspect_ratio"], veo["resolution"], veo["generate_audio"]) == (
        "16:9",
        "720p",
        False,
    )
    kling = build_arguments("fal-ai/kling-video/v2.1/pro/image-to-video", clip(7.0), options)
    assert kling["duration"] == "10"


def test_status_parsing() -> None:
    assert parse_status({"status": "IN_QUEUE", "queue_position": 3}) == Queued(3)
    running = parse_status({"status": "IN_PROGRESS", "logs": [{"message": "step 1"}]})
    assert running == Running(logs=("step 1",))
    done = parse_status({"status": "COMPLETED", "logs": None, "metrics": {"inference_time": 1.5}})
    assert done == Completed(1.5)
    canceled = parse_status({"status": "COMPLETED", "error_type": "request_cancelled"})
    assert isinstance(canceled, Canceled)
    timeout = parse_status({"status": "COMPLETED", "error": "x", "error_type": "request_timeout"})
    assert isinstance(timeout, Failed)
    assert isinstance(timeout.error, ProviderTimeout)
    odd = parse_status({"status": "FAILED"})
    assert isinstance(odd, Failed)
    assert isinstance(odd.error, FalError)


def response(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_error_translation_table() -> None:
    assert isinstance(fal_error("x", httpx.ReadTimeout("t")), ProviderTimeout)
    assert isinstance(fal_error("x", httpx.ConnectError("c")), ProviderUnavailable)
    limited = fal_error("x", response(429, {"detail": "slow"}, **{"Retry-After": "4"}))
    assert isinstance(limited, ProviderRateLimited)
    assert limited.retry_after == 4
    dated = fal_error("x", response(429, None, **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert dated.retry_after == 0
    refused = fal_error("x", response(403, {"detail": "no"}))
    assert type(refused) is FalError
    assert "FAL_KEY" in refused.message
    invalid = fal_error("x", response(422, {"detail": [{"loc": ["body", "seed"], "msg": "bad"}]}))
    assert isinstance(invalid, ProviderRejectedInput)
    assert "seed: bad" in invalid.message
    by_header = fal_error("x", response(503, None, **{"x-fal-error-type": "runner_disconnected"}))
    assert isinstance(by_header, ProviderUnavailable)
    assert isinstance(fal_error("x", response(504)), ProviderTimeout)
    assert isinstance(fal_error("x", FalFailure("m", "content_policy_violation")), ContentRejected)
    assert type(fal_error("x", response(404, {"detail": "nope"}))) is FalError


def test_outputs_are_urls_or_inline_bytes() -> None:
    png = base64.b64encode(b"\x89PNG....").decode()
    outputs, extra = parse_outputs(
        {
            "images": [
                {"url": "https://v3.fal.media/a.png", "content_type": "image/png"},
                {"url": f"data:image/png;base64,{png}"},
            ],
            "has_nsfw_concepts": [False, False],
        }
    )
    assert outputs[0].url == "https://v3.fal.media/a.png"
    assert (outputs[1].data, outputs[1].content_type) == (b"\x89PNG....", "image/png")
    assert extra == {"has_nsfw_concepts": [False, False]}
    with pytest.raises(ContentRejected):
        parse_outputs({"images": [{"url": "https://x/a.png"}], "has_nsfw_concepts": [True]})
    with pytest.raises(FalError):
        parse_outputs({"seed": 1})


def test_sync_verification_needs_loaded_keys() -> None:
    headers = {
        "X-Fal-Webhook-Request-Id": "r",
        "X-Fal-Webhook-User-Id": "u",
        "X-Fal-Webhook-Timestamp": "1",
        "X-Fal-Webhook-Signature": "00",
    }
    with pytest.raises(Unauthorized) as raised:
        provider().verify_webhook(headers, b"{}")
    assert raised.value.details["reason"] == "no_keys"


async def test_the_key_only_goes_to_the_queue_host() -> None:
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.method == "POST":
            foreign = "https://collector.example/fal-ai/flux/requests/r1"
            return httpx.Response(
                200,
                json={
                    "request_id": "r1",
                    "status_url": f"{foreign}/status",
                    "response_url": foreign,
                    "cancel_url": f"{foreign}/cancel",
                },
            )
        return httpx.Response(202, json={"status": "IN_QUEUE", "queue_position": 0})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        adapter = FalProvider(FalSettings(), ProviderDeps(http=http, environ={"FAL_KEY": "k"}))
        handle = await adapter.submit(still())
        assert await adapter.status(handle) == Queued(0)
    assert seen[-1] == ("https://queue.fal.run/fal-ai/flux/requests/r1/status?logs=1", "Key k")


async def test_an_invalid_url_is_a_configuration_error() -> None:
    async with httpx.AsyncClient() as http:
        adapter = FalProvider(
            FalSettings(queue_base_url="http://[::1"),
            ProviderDeps(http=http, environ={"FAL_KEY": "k"}),
        )
        with pytest.raises(ConfigurationError):
            await adapter.submit(still())
