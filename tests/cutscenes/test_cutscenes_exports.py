"""The feature's modules export what their ``__all__`` says, and the faces are wired."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from reelforge.cli.app import app as cli
from reelforge.mcp.server import build_mcp_server
from reelforge.services import build_services
from reelforge.settings import Settings

MODULES = [
    "reelforge.features.cutscenes.vocabulary",
    "reelforge.features.cutscenes.schemas",
    "reelforge.features.cutscenes.classifier",
    "reelforge.features.cutscenes.planning",
    "reelforge.features.cutscenes.tables",
    "reelforge.features.cutscenes.repository",
    "reelforge.features.cutscenes.feed",
    "reelforge.features.cutscenes.finishing",
    "reelforge.features.cutscenes.service",
    "reelforge.features.cutscenes.routes",
    "reelforge.features.cutscenes.pages",
    "reelforge.features.cutscenes.tools",
    "reelforge.cli.cutscene",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.{exported}"


async def test_the_mcp_server_and_the_cli_offer_the_feature(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path / "data"), environ={})
    try:
        tools = {tool.name for tool in await build_mcp_server(services).list_tools()}
    finally:
        await services.aclose()
    assert {"trigger_cutscene", "generate_location_visual", "classify_turn"} <= tools
    assert "cutscenes" in services.features
    assert "cutscene" in {group.name for group in cli.registered_groups}
