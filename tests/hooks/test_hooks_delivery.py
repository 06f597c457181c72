"""Outgoing webhooks end to end: a real service on loopback, the local studio, a receiver on
loopback that verifies with the ``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from fixtures.server import loopback_socket
from hooks.hooks_support import SECRET, Receiver, served
from keyframes.keyframes_support import storyboard


async def test_a_keyframes_callback_arrives_signed_and_verifies(tmp_path: Path) -> None:
    receiver = Receiver()
    async with (
        served(tmp_path, receiver, [0.2]) as (base_url, receiver_url, _),
        httpx.AsyncClient(timeout=60) as client,
    ):
        answer = await client.post(
            f"{base_url}/v1/runs?wait_s=60",
            json={
                "feature": "keyframes",
                "input": storyboard(6, provider="local"),
                "callback_url": f"{receiver_url}/done",
            },
        )
        assert answer.status_code == 200, answer.text
        run_id = answer.json()["run_id"]
        [delivery] = await receiver.wait_for(1)
        payload = Webhook(SECRET).verify(delivery.body, delivery.headers)
        assert delivery.path == "/done"
        assert payload["type"] == "run.completed"
        assert payload["data"]["run_id"] == run_id
        assert payload["data"]["feature"] == "keyframes"
        assert payload["data"]["status"] == "succeeded"
        # Signed with another secret, the same delivery does not verify.
        other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
        with pytest.raises(WebhookVerificationError):
            Webhook(other).verify(delivery.body, delivery.headers)
        metrics = (await client.get(f"{base_url}/metrics")).text
        assert 'reelforge_webhooks_sent_total{event="run.completed",outcome="delivered"} 1.0' in (
            metrics
        )


async def test_a_receiver_failing_twice_gets_it_on_the_third_attempt(tmp_path: Path) -> None:
    receiver = Receiver(answers=[500, 503])
    async with (
        served(tmp_path, receiver, [0.2, 0.2, 0.2]) as (base_url, receiver_url, _),
        httpx.AsyncClient(timeout=60) as client,
    ):
        created = await client.post(
            f"{base_url}/v1/projects/p-7/webhooks",
            json={"url": f"{receiver_url}/hook", "events": ["run.completed"]},
        )
        assert created.status_code == 201, created.text
        subscription = created.json()
        listed = (await client.get(f"{base_url}/v1/projects/p-7/webhooks")).json()
        assert [s["id"] for s in listed["subscriptions"]] == [subscription["id"]]
        answer = await client.post(
            f"{base_url}/v1/runs?wait_s=60",
            json={
                "feature": "keyframes",
                "input": storyboard(6, provider="local"),
                "project_id": "p-7",
            },
        )
        assert answer.status_code == 200, answer.text
        received = await receiver.wait_for(3)
        assert len({d.headers["webhook-id"] for d in received}) == 1
        for sent in received:
            assert Webhook(SECRET).verify(sent.body, sent.headers)["type"] == "run.completed"
        [delivery] = await _deliveries_when(client, base_url, subscription["id"], "delivered")
        log = delivery["log"]
        assert [a["outcome"] for a in log] == ["failed", "failed", "delivered"]
        assert [a["status_code"] for a in log] == [500, 503, 200]
        assert [a["attempt"] for a in log] == [1, 2, 3]

        # A manual redelivery: one more attempt, in the same log, with the same webhook-id.
        again = await client.post(f"{base_url}/v1/webhook-deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 202, again.text
        received = await receiver.wait_for(4)
        assert received[3].headers["webhook-id"] == received[0].headers["webhook-id"]
        [redelivered] = await _deliveries_when(client, base_url, subscription["id"], "delivered", 4)
        assert [a["outcome"] for a in redelivered["log"]] == [
            "failed",
            "failed",
            "delivered",
            "delivered",
        ]

        deleted = await client.delete(f"{base_url}/v1/webhooks/{subscription['id']}")
        assert deleted.status_code == 204
        gone = await client.get(f"{base_url}/v1/webhooks/{subscription['id']}/deliveries")
        assert gone.status_code == 404


async def test_urls_the_guard_refuses_are_refused_up_front(tmp_path: Path) -> None:
    receiver = Receiver()
    async with (
        served(tmp_path, receiver, [0.2]) as (base_url, receiver_url, services),
        httpx.AsyncClient(timeout=60) as client,
    ):
        closed_port = loopback_socket()
        unlisted = f"http://127.0.0.1:{closed_port.getsockname()[1]}/hook"
        closed_port.close()
        for url in (unlisted, "http://169.254.169.254/latest", "file:///etc/passwd"):
            refused = await client.post(f"{base_url}/v1/projects/p-7/webhooks", json={"url": url})
            assert refused.status_code == 400, url
            assert refused.json()["error"]["code"] in ("URL_NOT_ALLOWED", "INVALID_INPUT")
            run = await client.post(
                f"{base_url}/v1/runs",
                json={
                    "feature": "keyframes",
                    "input": storyboard(6, provider="local"),
                    "callback_url": url,
                },
            )
            assert run.status_code == 400, url
        unknown = await client.post(
            f"{base_url}/v1/projects/p-7/webhooks",
            json={"url": f"{receiver_url}/hook", "events": ["run.exploded"]},
        )
        assert unknown.status_code == 400
        assert unknown.json()["error"]["details"]["unknown"] == ["run.exploded"]
        assert await services.catalog.runs.list(limit=10) == []
        assert (await client.get(f"{base_url}/v1/projects/p-7/webhooks")).json() == {
            "subscriptions": []
        }


async def _deliveries_when(
    client: httpx.AsyncClient,
    base_url: str,
    subscription_id: str,
    status: str,
    attempts: int = 3,
) -> list[dict[str, Any]]:
    """The subscription's deliveries once its first is ``status`` after ``attempts`` tries."""
    for _ in range(600):
        answer = await client.get(f"{base_url}/v1/webhooks/{subscription_id}/deliveries")
        deliveries: list[dict[str, Any]] = answer.json()["deliveries"]
        first = deliveries[0] if deliveries else {}
        if first.get("status") == status and first.get("attempts") == attempts:
            return deliveries
        await asyncio.sleep(0.05)
    raise AssertionError(json.dumps(deliveries))
