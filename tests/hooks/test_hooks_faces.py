"""The webhooks' MCP tools (a real MCP client over streamable HTTP) and CLI commands."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from standardwebhooks import Webhook

from fixtures.cli import run_reelforge
from hooks.hooks_support import SECRET, Receiver, served
from keyframes.keyframes_support import storyboard


@asynccontextmanager
async def _mcp(base_url: str) -> AsyncIterator[ClientSession]:
    client = httpx2.AsyncClient(timeout=60)
    async with (
        client,
        streamable_http_client(f"{base_url}/mcp/", http_client=client) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    found: dict[str, Any] = result.structured_content or json.loads(result.content[0].text)
    return found


async def test_mcp_tools_subscribe_list_deliveries_and_redeliver(tmp_path: Path) -> None:
    receiver = Receiver()
    async with (
        served(tmp_path, receiver, [0.2]) as (base_url, receiver_url, _),
        _mcp(base_url) as session,
    ):
        refused = await session.call_tool(
            "subscribe_webhook", {"project_id": "p-3", "url": "http://169.254.169.254/x"}
        )
        assert refused.is_error
        subscription = _payload(
            await session.call_tool(
                "subscribe_webhook",
                {"project_id": "p-3", "url": f"{receiver_url}/m", "events": ["run.completed"]},
            )
        )
        listed = _payload(await session.call_tool("list_webhooks", {"project_id": "p-3"}))
        assert [s["id"] for s in listed["subscriptions"]] == [subscription["id"]]
        started = _payload(
            await session.call_tool(
                "start_run",
                {
                    "feature": "keyframes",
                    "input": storyboard(6, provider="local"),
                    "project_id": "p-3",
                    "wait_s": 60,
                },
            )
        )
        [first] = await receiver.wait_for(1)
        assert (
            Webhook(SECRET).verify(first.body, first.headers)["data"]["run_id"]
            == (started["run_id"])
        )
        deliveries = _payload(
            await session.call_tool(
                "list_webhook_deliveries", {"subscription_id": subscription["id"]}
            )
        )["deliveries"]
        assert [d["status"] for d in deliveries] == ["delivered"]
        again = _payload(
            await session.call_tool("redeliver_webhook", {"delivery_id": deliveries[0]["id"]})
        )
        assert again["id"] == deliveries[0]["id"]
        second = (await receiver.wait_for(2))[1]
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        deleted = _payload(
            await session.call_tool("unsubscribe_webhook", {"subscription_id": subscription["id"]})
        )
        assert deleted == {"deleted": subscription["id"]}
        assert _payload(await session.call_tool("list_webhooks", {"project_id": "p-3"})) == {
            "subscriptions": []
        }


@pytest.mark.usefixtures("restored_logging")
def test_cli_subscribes_lists_and_deletes(tmp_path: Path) -> None:
    env = {"REELFORGE_DATA_DIR": str(tmp_path / "data")}
    # A public address (no name to resolve: the machine may have no DNS).
    url = "https://93.184.215.14/hooks"
    made = run_reelforge(
        "webhooks", "subscribe", "p-5", url, "--event", "run.failed", "--json", env=env
    )
    assert made.exit_code == 0, made.output
    subscription = json.loads(made.stdout)
    assert subscription["events"] == ["run.failed"]
    listed = run_reelforge("webhooks", "list", "p-5", "--json", env=env)
    assert [s["url"] for s in json.loads(listed.stdout)["subscriptions"]] == [url]
    empty = run_reelforge("webhooks", "deliveries", subscription["id"], "--json", env=env)
    assert json.loads(empty.stdout) == {"deliveries": []}
    refused = run_reelforge(
        "webhooks", "subscribe", "p-5", "http://127.0.0.1:9/x", "--json", env=env
    )
    assert refused.exit_code != 0
    assert "URL_NOT_ALLOWED" in refused.output
    gone = run_reelforge("webhooks", "delete", subscription["id"], "--json", env=env)
    assert gone.exit_code == 0, gone.output
    listed = run_reelforge("webhooks", "list", "p-5", "--json", env=env)
    assert json.loads(listed.stdout) == {"subscriptions": []}
