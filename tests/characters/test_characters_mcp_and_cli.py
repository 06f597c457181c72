"""The characters feature through a real MCP client (streamable HTTP) against the emulator, and
through the ``reelforge characters`` command run as a user would (the local studio, offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image
from typer.testing import CliRunner

from characters.characters_support import MARA, library_settings, open_workspace
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.cli.app import app as cli
from reelforge.emulator import EmulatorServer
from reelforge.features.characters.prompting import MASTER_FRAMING

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

TOOLS = {
    "create_character",
    "get_character",
    "list_characters",
    "update_character",
    "suggest_character_prompt",
    "generate_character_reference",
    "generate_character_360_set",
    "generate_character_scene_image",
    "list_character_images",
    "delete_character_image",
}


async def _call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    payload: dict[str, Any] = result.structured_content or json.loads(text)
    return payload


async def test_the_mcp_tools_do_what_the_routes_do(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = library_settings(tmp_path / "data", emulator_server.base_url)
    async with open_workspace(settings) as ws:
        client = httpx2.AsyncClient(timeout=120)
        async with (
            client,
            streamable_http_client(f"{ws.base_url}/mcp/", http_client=client) as (
                read,
                write,
                *_,
            ),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert {tool.name for tool in (await session.list_tools()).tools} >= TOOLS

            created = await _call(
                session,
                "create_character",
                name=MARA["name"],
                project_id=MARA["projectId"],
                visual=MARA["visual"],
            )
            character_id = created["character"]["id"]
            updated = await _call(
                session,
                "update_character",
                character_id=character_id,
                changes={"description": "Night pilot of the harbour."},
            )
            assert updated["character"]["description"] == "Night pilot of the harbour."
            suggested = await _call(session, "suggest_character_prompt", character_id=character_id)
            assert suggested["prompt"].endswith(MASTER_FRAMING)

            planned = await _call(
                session, "generate_character_reference", character_id=character_id, dry_run=True
            )
            assert planned["dry_run"] is True
            made = await _call(session, "generate_character_reference", character_id=character_id)
            [reference] = made["images"]
            views = await _call(
                session,
                "generate_character_360_set",
                character_id=character_id,
                reference_image_id=reference["id"],
            )
            assert len(views["images"]) == 8
            scene = await _call(
                session,
                "generate_character_scene_image",
                character_id=character_id,
                scene_context="On the pier at night",
            )
            assert scene["images"][0]["kind"] == "scene"
            listed = await _call(session, "list_character_images", character_id=character_id)
            assert len(listed["images"]) == 10
            deleted = await _call(
                session,
                "delete_character_image",
                character_id=character_id,
                image_id=reference["id"],
            )
            assert deleted["remote"]["deleted"] is True

            failed = await session.call_tool("get_character", {"character_id": "does-not-exist"})
            assert failed.is_error
            text = failed.content[0].text  # type: ignore[union-attr]
            envelope = json.loads(text[text.index("{") :])
            assert envelope["error"]["code"] == "NOT_FOUND"
        found = await _call_listing(ws.http, character_id)
        assert len(found) == 9
    calls = (await emulator.ledger("character_library"))["providers"]["character_library"]
    assert calls["calls"] == {
        "reference_image": 1,
        "generate_360_set": 1,
        "scene_image": 1,
        "delete_reference_image": 1,
    }


async def _call_listing(http: Any, character_id: str) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = (await http.get(f"/v1/characters/{character_id}/images")).json()[
        "images"
    ]
    return images


def _in_process(*args: str) -> Any:
    """A command that starts no engine, run in this process (the CLI's own code path)."""
    result = CliRunner().invoke(cli, ["characters", *args, "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _in_a_process(*args: str, cwd: Path) -> Any:
    """A generating command: it starts the engine, which DBOS allows once per process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    env.update(
        {
            "COLUMNS": "200",
            "REELFORGE_LOG_LEVEL": "warning",
            "REELFORGE_AUTH__ENABLED": "false",
            "REELFORGE_CHARACTERS__POLL_INTERVAL_S": "0.05",
            "REELFORGE_ENGINE__FAN_IN_CHECK_S": "0.5",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "reelforge", "characters", *args, "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.usefixtures("restored_logging")
def test_the_cli_creates_suggests_generates_lists_and_deletes(tmp_path: Path) -> None:
    # conftest runs each test in tmp_path with no REELFORGE_* variables: default settings.
    character = _in_process(
        "create", "Mara Quell", "--project", "p-harbour", "--visual", "hair=silver"
    )
    character_id = character["id"]
    assert character["visual"] == {"hair": "silver"}
    updated = _in_process("update", character_id, "--visual", "eyes=grey")
    assert updated["visual"] == {"hair": "silver", "eyes": "grey"}
    prompt = _in_process("prompt", character_id)["prompt"]
    assert "Hair: silver. Eyes: grey." in prompt
    planned = _in_process("portfolio", character_id, "--dry-run")
    assert [job["label"] for job in planned["jobs"]][:2] == ["front", "front-right"]

    made = _in_a_process("reference", character_id, "--prompt", "Mara, silver hair", cwd=tmp_path)
    [image] = made["images"]
    assert (image["provider"], image["prompt"]) == ("local", "Mara, silver hair")
    stored = tmp_path / "reelforge-data" / "media" / image["media"]["key"]
    with Image.open(stored) as decoded:
        assert decoded.size == (720, 720)

    assert [i["id"] for i in _in_process("images", character_id)] == [image["id"]]
    deleted = _in_process("delete", character_id, image["id"])
    assert deleted["success"] is True
    assert deleted["remote"]["attempted"] is False
    assert not stored.exists()
    assert _in_process("images", character_id) == []
