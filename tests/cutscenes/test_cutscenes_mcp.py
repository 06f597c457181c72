"""The cutscenes MCP tools through a real MCP client over streamable HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from cutscenes.cutscenes_support import CAMPAIGN, SESSION, open_api, wait_for_cutscene
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


@asynccontextmanager
async def _mcp(base_url: str) -> AsyncIterator[ClientSession]:
    client = httpx2.AsyncClient(timeout=30)
    async with (
        client,
        streamable_http_client(f"{base_url}/mcp/", http_client=client) as (read, write, *_),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _payload(result: Any) -> dict[str, Any]:
    found: dict[str, Any] = result.structured_content or json.loads(result.content[0].text)
    return found


async def test_the_agent_tools_trigger_refuse_and_classify(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    async with open_api(tmp_path, emulator_server) as api, _mcp(api.base_url) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert {"trigger_cutscene", "generate_location_visual", "classify_turn"} <= set(tools)
        parameters = tools["trigger_cutscene"].input_schema["properties"]
        for name in ("cutscene_type", "image_prompt", "motion_prompt", "characters", "mood"):
            assert name in parameters

        await api.enable(image_provider=None, video_provider=None, clip_duration_s=1)
        arguments = {
            "campaign_id": CAMPAIGN,
            "session_id": SESSION,
            "turn_number": 4,
            "cutscene_type": "character_intro",
            "image_prompt": "Captain Vell steps out of the fog",
            "characters": ["Vell"],
            "mood": "misty dawn",
        }
        started = await session.call_tool("trigger_cutscene", arguments)
        assert not started.is_error
        answer = _payload(started)
        assert answer["media_pending"] is True
        assert len(answer["asset_ids"]) == 2
        place = _payload(
            await session.call_tool(
                "generate_location_visual",
                {"campaign_id": CAMPAIGN, "session_id": SESSION, "location_name": "Fog Harbour"},
            )
        )
        assert place["media_pending"] is True
        await wait_for_cutscene(api, answer["cutscene_id"])
        await wait_for_cutscene(api, place["cutscene_id"])
        record = await api.record(answer["image_asset_id"])
        assert record["status"] == "complete"

        # A session whose budget cannot cover a still: the spec's answer, nothing called.
        await api.cap_session("0.01", "tight-campaign")
        refused = await session.call_tool(
            "trigger_cutscene", {**arguments, "campaign_id": "tight-campaign"}
        )
        assert not refused.is_error
        assert _payload(refused) == {
            "error": "Session media budget exhausted",
            "budget": "0.01",
            "scope": f"game_session:tight-campaign:{SESSION}",
        }
        assert (await emulator.ledger())["calls"] == []

        bad = await session.call_tool("trigger_cutscene", {**arguments, "cutscene_type": "montage"})
        assert bad.is_error
        assert "cutscene_type" in bad.content[0].text  # type: ignore[union-attr]
        classified = _payload(
            await session.call_tool("classify_turn", {"signals": {"use_sakuga": True}})
        )
        assert classified["cutscene_type"] == "action_climax"
        off = await session.call_tool(
            "trigger_cutscene", {**arguments, "campaign_id": "never-enabled"}
        )
        assert off.is_error
        text = off.content[0].text  # type: ignore[union-attr]
        assert json.loads(text[text.index("{") :])["error"]["code"] == "CONFLICT"
