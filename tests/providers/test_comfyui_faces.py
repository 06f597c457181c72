"""The ComfyUI provider through the other faces: ``reelforge mcp`` (a real MCP client over
stdio) renders key frames, and ``reelforge render`` (a real process) renders a storyboard,
both on the emulator's ComfyUI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from PIL import Image

from fixtures import emulator as emulator_fixtures
from fixtures.comfyui import comfyui_environment
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_env
from keyframes.keyframes_support import keyframes_settings, storyboard
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def _env(tmp_path: Path, emulator_url: str) -> dict[str, str]:
    settings = keyframes_settings(tmp_path / "data", emulator_url)
    return (
        engine_env(settings)
        | comfyui_environment(emulator_url)
        | {
            "REELFORGE_PUBLIC_URL": "https://studio.example.test",
            "REELFORGE_KEYFRAMES__MIN_FRAMES": "1",
            "REELFORGE_KEYFRAMES__POLL_INTERVAL_S": "0.1",
        }
    )


def _payload(result: Any) -> dict[str, Any]:
    if result.structured_content is not None:
        return dict(result.structured_content)
    return dict(json.loads(result.content[0].text))


async def test_key_frames_over_mcp(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "reelforge", "mcp"],
        env=_env(tmp_path, emulator_server.base_url),
        cwd=tmp_path,
    )
    with (tmp_path / "mcp-stderr.log").open("w") as errlog:
        async with (
            stdio_client(server, errlog=errlog) as (read, write, *_),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool(
                "render_storyboard_frames", storyboard(2, provider="comfyui")
            )
    assert not result.is_error, result.content
    body = _payload(result)
    assert body["failed_frames"] == []
    assert {f["provider_metadata"]["provider"] for f in body["generated_frames"]} == {"comfyui"}
    assert (await emulator.ledger("comfyui"))["providers"]["comfyui"]["calls"]["submit"] == 2


async def test_render_over_the_cli(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    board = tmp_path / "storyboard.json"
    board.write_text(json.dumps(storyboard(2, provider="comfyui") | {"title": "Harbour"}))
    env = _env(tmp_path, emulator_server.base_url) | {"COLUMNS": "200"}
    env.pop("REELFORGE_PUBLIC_URL")
    result = subprocess.run(
        [sys.executable, "-m", "reelforge", "render", str(board), "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Rendering Harbour" in result.stderr  # the progress bar
    frames = json.loads(result.stdout)["generated_frames"]
    assert [f["provider_metadata"]["provider"] for f in frames] == ["comfyui", "comfyui"]
    media = tmp_path / "data" / "media"
    for frame in frames:
        key = frame["image_url"].split("/media/", 1)[1]
        with Image.open(media / key) as image:
            assert image.size == (512, 288)
    assert (await emulator.ledger("comfyui"))["providers"]["comfyui"]["calls"]["submit"] == 2
