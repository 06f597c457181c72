"""The Replicate adapter: settings, inputs, prices, parsing, errors, webhook signatures, and the
emulator's ``Prefer: wait`` and ``Cancel-After`` behaviour."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import CapturedLogs, EmulatorControl
from reelforge.emulator.signing import StandardWebhookSigner
from reelforge.errors import (
    ConfigurationError,
    ContentRejected,
    InvalidInput,
    ProviderPending,
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
    JobHandle,
    ProviderDeps,
    Queued,
    Running,
    Succeeded,
)
from reelforge.providers.replicate import (
    ReplicateError,
    ReplicateProvider,
    ReplicateSettings,
    parse_prediction,
    replicate_error,
)
from reelforge.providers.replicate.models import ReplicateOptions, build_input
from reelforge.providers.replicate.wire import ReplicateFailure
from reelforge.providers.webhook_security import WebhookGuard

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator
captured_logs = emulator_fixtures.captured_logs

TOKEN = "r8_unit-test-token"
SECRET = StandardWebhookSigner.generate().secret
VERSION = "a" * 64


def provider(http: httpx.AsyncClient | None = None, **settings: Any) -> ReplicateProvider:
    environ = {"REPLICATE_API_TOKEN": TOKEN, "REPLICATE_WEBHOOK_SECRET": SECRET}
    deps = ProviderDeps(http=http or httpx.AsyncClient(), environ=environ)
    return ReplicateProvider(ReplicateSettings(**settings), deps)


def still(**fields: Any) -> GenerationRequest:
    return GenerationRequest(Capability.TEXT_TO_IMAGE, "p", width=1024, height=576, **fields)


def restyle(**fields: Any) -> GenerationRequest:
    image = InputImage(content_type="image/png", data=b"\x89PNG")
    return GenerationRequest(Capability.IMAGE_TO_IMAGE, "p", images=(image,), **fields)


def test_api_root_is_without_v1() -> None:
    assert ReplicateSettings().api_root == "https://api.replicate.com"
    assert ReplicateSettings(base_url="http://127.0.0.1:9/replicate/v1/").api_root == (
        "http://127.0.0.1:9/replicate"
    )


def test_inputs_for_text_and_image() -> None:
    options = ReplicateOptions()
    text = build_input(still(seed=3, steps=28, guidance_scale=3.5), options)
    assert text == {
        "prompt": "p",
        "aspect_ratio": "16:9",
        "output_format": "png",
        "seed": 3,
        "num_inference_steps": 28,
        "guidance": 3.5,
    }
    image = build_input(restyle(), ReplicateOptions(prompt_strength=0.6, num_outputs=2))
    assert image["image"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    assert (image["prompt_strength"], image["num_outputs"]) == (0.6, 2)


@pytest.mark.parametrize(
    ("request_", "amount"),
    [
        (still(), Decimal("0.025")),
        (still(options={"num_outputs": 3}), Decimal("0.075")),
        (still(model="black-forest-labs/flux-1.1-pro"), Decimal("0.04")),
        (still(model=f"black-forest-labs/flux-dev:{VERSION}"), Decimal("0.025")),
        (restyle(), Decimal("0.025")),
    ],
)
def test_cost_follows_the_price_facts(request_: GenerationRequest, amount: Decimal) -> None:
    estimate = provider().estimate_cost(request_)
    assert estimate.amount_usd == amount
    assert "2026" in estimate.basis


def test_unknown_model_options_and_capabilities_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        provider().estimate_cost(still(model="someone/new-model"))
    priced = provider(prices={"someone/new-model": {"usd": "0.01"}})
    assert priced.estimate_cost(still(model="someone/new-model")).amount_usd == Decimal("0.01")
    for options in ({"num_steps": 3}, {"cancel_after": "soon"}):
        with pytest.raises(InvalidInput):
            provider().check_request(still(options=options))
    image = InputImage(content_type="image/png", data=b"x")
    clip = GenerationRequest(Capability.IMAGE_TO_VIDEO, "p", images=(image,), duration_s=4)
    with pytest.raises(InvalidInput):
        provider().check_request(clip)


def test_prediction_states() -> None:
    assert parse_prediction({"status": "starting"}) == Queued()
    logs = "Using seed: 7\n 42%|████      | 12/28 [00:02<00:03]\n"
    running = parse_prediction({"status": "processing", "logs": logs})
    assert isinstance(running, Running)
    assert running.progress == 0.42
    assert running.logs[0] == "Using seed: 7"
    done = parse_prediction(
        {
            "id": "p1",
            "status": "succeeded",
            "model": "black-forest-labs/flux-1.1-pro",
            "logs": logs,
            "output": "https://replicate.delivery/x/out.webp",
            "metrics": {"predict_time": 1.2345},
        }
    )
    assert isinstance(done, Succeeded)
    assert done.outputs[0].url == "https://replicate.delivery/x/out.webp"
    assert (done.metadata.seed, done.metadata.inference_time_ms) == (7, 1235)
    inline = parse_prediction(
        {"status": "succeeded", "output": ["data:image/png;base64,iVBORw=="], "input": {"seed": 9}}
    )
    assert isinstance(inline, Succeeded)
    assert (inline.outputs[0].data, inline.outputs[0].content_type) == (b"\x89PNG", "image/png")
    assert inline.metadata.seed == 9
    assert isinstance(parse_prediction({"status": "canceled"}), Canceled)
    aborted = parse_prediction({"status": "aborted"})
    assert isinstance(aborted, Canceled)
    assert "aborted" in aborted.reason


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "failed", "error": "NSFW content detected."}, ContentRejected),
        ({"status": "failed", "error": "CUDA out of memory"}, ReplicateError),
        ({"status": "succeeded", "output": None, "data_removed": True}, ReplicateError),
        ({"status": "succeeded", "output": {"text": "no files"}}, ReplicateError),
        ({"status": "queued"}, ReplicateError),
    ],
)
def test_failed_predictions(body: Any, expected: type[Exception]) -> None:
    state = parse_prediction(body)
    assert isinstance(state, Failed)
    assert type(state.error) is expected
    assert state.error.provider == "replicate"


def test_an_answer_that_is_no_prediction_is_a_passing_glitch() -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        parse_prediction([])
    assert raised.value.details["reason"] == "malformed_body"


def problem(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_error_translation_table() -> None:
    assert isinstance(replicate_error("x", httpx.ReadTimeout("t")), ProviderTimeout)
    assert isinstance(replicate_error("x", httpx.ConnectError("c")), ProviderUnavailable)
    limited = replicate_error("x", problem(429, {"detail": "slow"}, **{"Retry-After": "4"}))
    assert isinstance(limited, ProviderRateLimited)
    assert limited.retry_after == 4
    detail = "Request was throttled. Your rate limit resets in ~30s."
    assert replicate_error("x", problem(429, {"detail": detail})).retry_after == 30
    refused = replicate_error("x", problem(401, {"detail": "You did not pass a valid token"}))
    assert type(refused) is ReplicateError
    assert "REPLICATE_API_TOKEN" in refused.message
    fields = [{"type": "required", "field": "input.prompt", "description": "x"}]
    invalid = replicate_error("x", problem(422, {"detail": "-", "invalid_fields": fields}))
    assert isinstance(invalid, ProviderRejectedInput)
    assert "input.prompt" in invalid.message
    flagged = {"title": "Input flagged", "detail": "flagged as sensitive (E005)"}
    assert isinstance(replicate_error("x", problem(422, flagged)), ContentRejected)
    assert isinstance(replicate_error("x", problem(503)), ProviderUnavailable)
    assert isinstance(replicate_error("x", problem(504)), ProviderTimeout)
    assert type(replicate_error("x", problem(402, {"detail": "No credit"}))) is ReplicateError
    assert type(replicate_error("x", ReplicateFailure("Model crashed"))) is ReplicateError


# -- webhook signatures -----------------------------------------------------------------------


def signed(
    body: bytes, *, secret: str = SECRET, at: int = 1_000, msg: str = "msg_1"
) -> dict[str, str]:
    return StandardWebhookSigner(secret).headers(event_id=msg, timestamp=at, body=body)


def verifier(now: float = 1_000.0, **environ: str) -> ReplicateProvider:
    env = {"REPLICATE_API_TOKEN": TOKEN, "REPLICATE_WEBHOOK_SECRET": SECRET} | environ
    deps = ProviderDeps(http=httpx.AsyncClient(), environ=env)
    guard = WebhookGuard("replicate", clock=lambda: now)
    return ReplicateProvider(ReplicateSettings(), deps, guard=guard)


def reason(adapter: ReplicateProvider, headers: dict[str, str], body: bytes) -> str:
    with pytest.raises(Unauthorized) as raised:
        adapter.verify_webhook(headers, body)
    return str(raised.value.details["reason"])


def test_webhook_signature_window_and_replay() -> None:
    body = json.dumps({"id": "p1", "status": "succeeded", "output": ["https://x/a.png"]}).encode()
    adapter = verifier()
    adapter.verify_webhook(signed(body), body)
    assert reason(adapter, signed(body), body) == "replayed"
    assert reason(adapter, signed(body, msg="msg_2") | {"webhook-id": "msg_3"}, body) == (
        "bad_signature"
    )
    assert reason(adapter, signed(body, at=1_000 - 301, msg="m4"), body) == "stale_timestamp"
    assert reason(adapter, signed(body, secret=StandardWebhookSigner.generate().secret), body) == (
        "bad_signature"
    )
    assert reason(adapter, {}, body) == "missing_headers"
    several = signed(body, msg="m5")
    several["webhook-signature"] = "v1,bm90IGl0 v2,x " + several["webhook-signature"]
    adapter.verify_webhook(several, body)
    event = adapter.parse_webhook(several, body)
    assert (event.request_id, event.event_id) == ("p1", "m5")
    assert isinstance(event.state, Succeeded)


def test_replicate_signatures_agree_with_the_standardwebhooks_package() -> None:
    body = json.dumps({"id": "p2", "status": "succeeded", "output": ["https://x/b.png"]}).encode()
    now = int(time.time())
    # The emulator signs as Replicate does: the maintained package verifies it.
    emulated = signed(body, at=now, msg="msg_pkg")
    assert Webhook(SECRET).verify(body, emulated) == json.loads(body)
    # The package's own signature passes our verification; a changed body fails both.
    packaged = {
        "webhook-id": "msg_lib",
        "webhook-timestamp": str(now),
        "webhook-signature": Webhook(SECRET).sign(
            "msg_lib", datetime.fromtimestamp(now, UTC), body
        ),
    }
    verifier(now=float(now)).verify_webhook(packaged, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body + b" ", emulated)
    assert reason(verifier(now=float(now)), packaged, body + b" ") == "bad_signature"


def test_webhook_secret_problems_never_show_the_secret(captured_logs: CapturedLogs) -> None:
    body = b"{}"
    assert reason(verifier(REPLICATE_WEBHOOK_SECRET=""), signed(body), body) == "no_keys"
    with pytest.raises(ConfigurationError) as raised:
        verifier(REPLICATE_WEBHOOK_SECRET="whsec_not base64!").verify_webhook(signed(body), body)
    assert "REPLICATE_WEBHOOK_SECRET" in raised.value.message
    assert "not base64" not in repr(raised.value.to_payload())
    assert SECRET not in captured_logs.text()


# -- the wire, through a mock transport -------------------------------------------------------


async def test_requests_are_built_from_the_api_root() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        foreign = "https://collector.example/v1/predictions/p1"
        status = "starting" if request.method == "POST" else "processing"
        body = {"id": "p1", "status": status, "urls": {"get": foreign}}
        return httpx.Response(201 if request.method == "POST" else 200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        adapter = provider(http, base_url="http://replicate.test", sync_wait_s=5)
        handle = await adapter.submit(
            still(webhook_url="https://hooks.test/r", options={"cancel_after": "90s"})
        )
        assert isinstance(await adapter.status(handle), Running)
        with pytest.raises(ProviderPending) as pending:
            await adapter.run(still(model=f"black-forest-labs/flux-dev:{VERSION}"))
    create, get, run = seen
    assert (
        str(create.url) == "http://replicate.test/v1/models/black-forest-labs/flux-dev/predictions"
    )
    assert create.headers["authorization"] == f"Bearer {TOKEN}"
    assert create.headers["cancel-after"] == "90s"
    sent = json.loads(create.content)
    assert (sent["webhook"], sent["webhook_events_filter"]) == (
        "https://hooks.test/r",
        ["completed"],
    )
    assert str(get.url) == "http://replicate.test/v1/predictions/p1"
    assert (str(run.url), run.headers["prefer"]) == (
        "http://replicate.test/v1/predictions",
        "wait=5",
    )
    assert json.loads(run.content)["version"] == VERSION
    assert pending.value.details["request_id"] == "p1"


async def test_model_references_are_checked() -> None:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(500))
    ) as http:
        adapter = provider(http)
        for bad in ("flux-dev", "a/b/c", "owner/name:", "not a model"):
            with pytest.raises(InvalidInput):
                await adapter.submit(still(model=bad))


# -- against the emulator ---------------------------------------------------------------------


@pytest.fixture
async def live(emulator: EmulatorControl) -> AsyncIterator[ReplicateProvider]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield provider(http, base_url=f"{emulator.base_url}/replicate", sync_wait_s=1)


async def test_deadline_before_start_is_aborted(
    live: ReplicateProvider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=3.0, queue_s=2.0)
    handle = await live.submit(still(options={"cancel_after": "200ms"}))
    await _until_terminal(live, handle, expected=Canceled)
    state = await live.status(handle)
    assert isinstance(state, Canceled)
    assert "aborted" in state.reason
    assert (await emulator.ledger("replicate"))["billed"] == []


async def test_run_past_the_wait_is_pending(
    live: ReplicateProvider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=3.0, queue_s=0.1)
    with pytest.raises(ProviderPending) as pending:
        await live.run(still())
    handle_id = pending.value.details["request_id"]
    body = (await _raw(emulator, f"/replicate/v1/predictions/{handle_id}")).json()
    assert body["status"] in ("starting", "processing")
    await emulator.configure(latency_s=0.1, queue_s=0.0)
    result = await live.run(restyle(options={"output_format": "jpg"}))
    assert result.outputs[0].data is not None
    assert result.outputs[0].data[:3] == b"\xff\xd8\xff"
    assert result.cost_usd == Decimal("0.025")


async def test_emulator_refuses_bad_bodies(
    live: ReplicateProvider, emulator: EmulatorControl
) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        auth = {"Authorization": "Bearer t"}
        url = f"{emulator.base_url}/replicate/v1/predictions"
        missing = await http.post(url, json={"input": {"prompt": "x"}}, headers=auth)
        bad_deadline = await http.post(
            url,
            json={"version": VERSION, "input": {"prompt": "x"}},
            headers=auth | {"Cancel-After": "soon"},
        )
        anonymous = await http.get(f"{url}/nope")
    assert (missing.status_code, missing.json()["invalid_fields"][0]["field"]) == (422, "version")
    assert bad_deadline.status_code == 400
    assert anonymous.status_code == 401
    with pytest.raises(ProviderRejectedInput):
        await live.submit(GenerationRequest(Capability.TEXT_TO_IMAGE, " "))


async def _raw(emulator: EmulatorControl, path: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.get(f"{emulator.base_url}{path}", headers={"Authorization": "Bearer t"})


async def _until_terminal(adapter: ReplicateProvider, handle: JobHandle, expected: type) -> None:
    async with asyncio.timeout(5):
        while not isinstance(await adapter.status(handle), expected):
            await asyncio.sleep(0.05)


def test_references_go_to_a_kontext_model_by_their_count() -> None:
    adapter = provider()
    face = InputImage(content_type="image/png", data=b"\x89PNG")
    _, path, body, _ = adapter._prepare(still(references=(face,)))
    assert path == "/v1/models/black-forest-labs/flux-kontext-pro/predictions"
    assert set(body["input"]) == {"prompt", "aspect_ratio", "output_format", "input_image"}
    _, path, body, _ = adapter._prepare(still(references=(face, face)))
    assert path == "/v1/models/flux-kontext-apps/multi-image-kontext-pro/predictions"
    assert {"input_image_1", "input_image_2"} <= set(body["input"])
    one = adapter.estimate_cost(still(references=(face,)))
    two = adapter.estimate_cost(still(references=(face, face)))
    assert (one.model, one.amount_usd) == ("black-forest-labs/flux-kontext-pro", Decimal("0.04"))
    assert (two.model, two.amount_usd) == (
        "flux-kontext-apps/multi-image-kontext-pro",
        Decimal("0.08"),
    )
    assert adapter.model_for_references(None, Capability.TEXT_TO_IMAGE) == (
        "black-forest-labs/flux-kontext-pro"
    )
