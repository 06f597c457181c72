"""``reelforge mcp``: a real MCP client starts the server over stdio and renders the spec's
example against the emulator; refusals come back as our error envelope; dry runs call nothing.
It serves no HTTP, so its URLs are on the public URL it is given (where ``reelforge serve``
would answer)."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_env
from keyframes.keyframes_support import keyframes_settings, spec_example
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

PUBLIC = "https://studio.example.test"


@asynccontextmanager
async def mcp_session(
    tmp_path: Path, emulator_server: EmulatorServer
) -> AsyncIterator[ClientSession]:
    """A client session with ``reelforge mcp`` (in the test's own task: the SDK's task groups
    cannot span a fixture's setup and teardown)."""
    settings = keyframes_settings(tmp_path / "data", emulator_server.base_url)
    env = engine_env(settings) | {
        "REELFORGE_PUBLIC_URL": PUBLIC,
        "REELFORGE_KEYFRAMES__MIN_FRAMES": "1",
        "REELFORGE_KEYFRAMES__POLL_INTERVAL_S": "0.1",
    }
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "reelforge", "mcp"], env=env, cwd=tmp_path
    )
    with (tmp_path / "mcp-stderr.log").open("w") as errlog:
        async with (
            stdio_client(server, errlog=errlog) as (read, write, *_),
            ClientSession(read, write) as opened,
        ):
            await opened.initialize()
            yield opened


def _payload(result: Any) -> dict[str, Any]:
    if result.structured_content is not None:
        return dict(result.structured_content)
    return dict(json.loads(result.content[0].text))


async def test_the_spec_example_round_trips_over_mcp_stdio(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    # One server for both halves: starting it (migrations, the engine) is the slow part.
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    async with mcp_session(tmp_path, emulator_server) as session:
        await _refusals(session, emulator)
        await _round_trip(session, emulator)


async def _round_trip(session: ClientSession, emulator: EmulatorControl) -> None:
    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    schema = tools["render_storyboard_frames"].input_schema
    frame_schema = schema["properties"]["storyboard_frames"]["items"]
    assert set(frame_schema["properties"]) >= {"frame_id", "description", "camera_notes"}
    assert frame_schema["additionalProperties"] is False

    result = await session.call_tool("render_storyboard_frames", spec_example())
    assert not result.is_error, result.content
    body = _payload(result)
    assert body["failed_frames"] == []
    [frame] = body["generated_frames"]
    assert frame["frame_id"] == "SCENE_1_SHOT_1"
    assert frame["image_url"].startswith(f"{PUBLIC}/media/assets/")
    metadata = frame["provider_metadata"]
    assert (metadata["seed"], metadata["steps"]) == (123456, 24)
    assert metadata["model"] == "fal-ai/flux-pro/v1.1"

    again = await session.call_tool("get_storyboard_frames", {"run_id": body["run_id"]})
    assert _payload(again) == body
    run = _payload(await session.call_tool("get_run_result", {"run_id": body["run_id"]}))
    assert run["run_url"] == f"{PUBLIC}/v1/runs/{body['run_id']}"
    assert len((await emulator.ledger("fal"))["billed"]) == 1


async def _refusals(session: ClientSession, emulator: EmulatorControl) -> None:
    request = spec_example() | {"style": "noir"}
    request["storyboard_frames"][0]["colour"] = "red"
    result = await session.call_tool("render_storyboard_frames", request)
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    error = json.loads(text[text.index("{") :])["error"]
    assert error["code"] == "INVALID_INPUT"
    fields = sorted(p["field"] for p in error["details"]["fields"])
    assert fields == ["storyboard_frames.0.colour", "style"]

    result = await session.call_tool("render_storyboard_frames", spec_example() | {"dry_run": True})
    assert not result.is_error, result.content
    plan = _payload(result)
    assert plan["dry_run"] is True
    assert plan["total_usd"] == "0.04"
    assert plan["render_plan"]["frames"][0]["seed"] == 123456
    assert (await emulator.ledger("fal"))["calls"] == []
