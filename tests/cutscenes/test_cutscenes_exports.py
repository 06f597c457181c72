"""The feature's modules export what their ``__all__`` says, and the faces are wired."""

from __future__ import annotations

import importlib

import pytest

from reelforge.cli.app import app as cli
from reelforge.mcp.server import feature_registrars

MODULES = [
    "reelforge.features.cutscenes.schemas",
    "reelforge.features.cutscenes.classifier",
    "reelforge.features.cutscenes.planning",
    "reelforge.features.cutscenes.tables",
    "reelforge.features.cutscenes.repository",
    "reelforge.features.cutscenes.feed",
    "reelforge.features.cutscenes.workflows",
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


def test_the_mcp_server_and_the_cli_offer_the_feature() -> None:
    from reelforge.features.cutscenes import tools

    assert tools.register in feature_registrars()
    assert "cutscene" in {group.name for group in cli.registered_groups}
