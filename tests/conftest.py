"""Shared fixtures: every test runs with no ambient REELFORGE_* or provider variables, in its own
working directory, with its own data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reelforge.settings import Settings

_AMBIENT_PREFIXES = ("REELFORGE_",)
_AMBIENT_NAMES = (
    "FAL_KEY",
    "REPLICATE_API_TOKEN",
    "GEMINI_API_KEY",
    "RUNWAYML_API_SECRET",
    "RUNWAY_API_KEY",
    "GOOGLE_API_KEY",
    "FAL_IMAGE_TO_VIDEO",
    "FAL_TEXT_TO_VIDEO",
    "LEONARDO_API_KEY",
    "CHARACTER_LIBRARY_API_URL",
    "REPLICATE_WEBHOOK_SECRET",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(_AMBIENT_PREFIXES) or name in _AMBIENT_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings rooted in this test's temporary folder, auth off."""
    return Settings(data_dir=tmp_path / "data", auth={"enabled": False})
