"""The emulator's webhooks: fal's ED25519 signatures, and every way a delivery goes wrong."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl, InboxDelivery

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

AUTH = {"Authorization": "Key webhook-test-key"}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=30.0, headers=AUTH) as client:
        yield client


async def submit_with_webhook(
    http: httpx.AsyncClient, emulator: EmulatorControl, url: str
) -> dict[str, Any]:
    response = await http.post(
        f"{emulator.base_url}/fal/queue/fal-ai/flux/dev",
        params={"fal_webhook": url},
        json={"prompt": "p"},
    )
    body: dict[str, Any] = response.json()
    return body


async def public_key(http: httpx.AsyncClient, emulator: EmulatorControl) -> Ed25519PublicKey:
    jwks = (await http.get(f"{emulator.base_url}/fal/rest/.well-known/jwks.json")).json()
    x = jwks["keys"][0]["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


def signature_holds(key: Ed25519PublicKey, delivery: InboxDelivery) -> bool:
    h = delivery.headers
    message = "\n".join(
        [
            h["x-fal-webhook-request-id"],
            h["x-fal-webhook-user-id"],
            h["x-fal-webhook-timestamp"],
            hashlib.sha256(delivery.body).hexdigest(),
        ]
    ).encode()
    try:
        key.verify(bytes.fromhex(h["x-fal-webhook-signature"]), message)
    except InvalidSignature:
        return False
    return True


def box() -> str:
    return uuid.uuid4().hex


async def test_a_completed_job_calls_back_signed(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    inbox = box()
    handle = await submit_with_webhook(http, emulator, emulator.inbox_url(inbox))
    [delivery] = await emulator.wait_for_inbox(inbox, 1)
    body = json.loads(delivery.body)
    assert body["request_id"] == handle["request_id"]
    assert body["status"] == "OK"
    assert body["payload"]["images"][0]["url"].startswith(emulator.base_url)
    assert signature_holds(await public_key(http, emulator), delivery)
    assert abs(int(delivery.headers["x-fal-webhook-timestamp"]) - time.time()) < 30
    [record] = (await emulator.ledger("fal"))["webhooks"]
    assert (record["status"], record["attempt"], record["fault"]) == (200, 1, None)


@pytest.mark.parametrize("kind", ["bad_signature", "stale_timestamp"])
async def test_mis_signed_callbacks(
    emulator: EmulatorControl, http: httpx.AsyncClient, kind: str
) -> None:
    await emulator.inject("fal", "webhook", kind)
    inbox = box()
    await submit_with_webhook(http, emulator, emulator.inbox_url(inbox))
    [delivery] = await emulator.wait_for_inbox(inbox, 1)
    key = await public_key(http, emulator)
    age = time.time() - int(delivery.headers["x-fal-webhook-timestamp"])
    if kind == "bad_signature":
        assert not signature_holds(key, delivery)
        assert age < 30
    else:
        assert signature_holds(key, delivery)
        assert age > 3000


async def test_duplicated_and_lost_callbacks(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.inject("fal", "webhook", "duplicated")
    await emulator.inject("fal", "webhook", "lost")
    twice, never = box(), box()
    await submit_with_webhook(http, emulator, emulator.inbox_url(twice))
    first, again = await emulator.wait_for_inbox(twice, 2)
    assert (first.body, first.headers["x-fal-webhook-signature"]) == (
        again.body,
        again.headers["x-fal-webhook-signature"],
    )
    await submit_with_webhook(http, emulator, emulator.inbox_url(never))
    await asyncio.sleep(0.6)
    assert await emulator.inbox(never) == []
    faults = [w["fault"] for w in (await emulator.ledger("fal"))["webhooks"]]
    assert faults == ["duplicated", "duplicated", "lost"]


async def test_delayed_and_out_of_order_callbacks(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    inbox = box()
    await emulator.inject("fal", "webhook", "out_of_order", delay_s=5.0)
    held = await submit_with_webhook(http, emulator, emulator.inbox_url(inbox))
    await asyncio.sleep(0.5)
    assert await emulator.inbox(inbox) == []
    await emulator.inject("fal", "webhook", "delayed", delay_s=0.3)
    later = await submit_with_webhook(http, emulator, emulator.inbox_url(inbox))
    first, second = await emulator.wait_for_inbox(inbox, 2)
    order = [json.loads(d.body)["request_id"] for d in (first, second)]
    assert order == [later["request_id"], held["request_id"]]


async def test_failed_job_calls_back_with_an_error(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.inject("fal", "generate", "content_rejected")
    inbox = box()
    await submit_with_webhook(http, emulator, emulator.inbox_url(inbox))
    [delivery] = await emulator.wait_for_inbox(inbox, 1)
    body = json.loads(delivery.body)
    assert (body["status"], body["error"]) == ("ERROR", "Invalid status code: 422")
    assert body["payload"]["detail"][0]["type"] == "content_policy_violation"


async def test_an_unreachable_receiver_is_retried(
    emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    await emulator.configure(webhook_attempts=2)
    await submit_with_webhook(http, emulator, "http://127.0.0.1:9/hook")
    async with asyncio.timeout(10):
        while len((await emulator.ledger("fal"))["webhooks"]) < 2:
            await asyncio.sleep(0.05)
    records = (await emulator.ledger("fal"))["webhooks"]
    assert [(r["attempt"], r["status"]) for r in records] == [(1, None), (2, None)]
    assert all(r["error"] for r in records)
