"""The public API is what ``__all__`` says, nothing more, and every name in it exists."""

from __future__ import annotations

import importlib

import pytest

import reelforge

PUBLIC_MODULES = [
    "reelforge",
    "reelforge.errors",
    "reelforge.settings",
    "reelforge.services",
    "reelforge.assets",
    "reelforge.providers.base",
    "reelforge.providers.registry",
    "reelforge.providers.briefs",
    "reelforge.providers.local.studio",
    "reelforge.api.app",
]


def test_top_level_exports() -> None:
    assert reelforge.__all__ == ["ReelforgeError", "Settings", "__version__"]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_exported_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = module.__all__
    for name in exported:
        assert hasattr(module, name), f"{module_name}.{name} is exported but missing"
