"""Shared fixtures: every test runs with no ambient REELFORGE_* or provider variables, in its own
working directory, with its own data directory."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from reelforge.settings import Settings

# A pytest-xdist worker starts with COLUMNS=80, and rich fixes a console's width from COLUMNS
# when the console is made: the CLI's consoles, made at import, would ignore the COLUMNS that
# the in-process CLI tests give each command.
os.environ.pop("COLUMNS", None)

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
    "SITE_URL",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(_AMBIENT_PREFIXES) or name in _AMBIENT_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """For tests that run the CLI in this process: it configures structlog onto the stderr of
    the moment, which CliRunner replaces and closes, and later tests must not log into it."""
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings rooted in this test's temporary folder, auth off."""
    return Settings(data_dir=tmp_path / "data", auth={"enabled": False})


#: Fixtures that drive a real browser: their tests are marked ``browser``.
_BROWSER_FIXTURES = frozenset({"browser", "page"})
#: What a test module that starts processes says: :mod:`subprocess`, asyncio's
#: ``create_subprocess_exec``, an MCP client's ``stdio_client`` (it starts the server), or the
#: engine fixtures' ``processes(...)`` group (engine processes killed with ``kill -9``).
_SPAWNS = re.compile(
    r"^\s*(import subprocess|from subprocess )"
    r"|\b(processes|create_subprocess_exec|create_subprocess_shell|stdio_client)\(",
    re.M,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what a test needs, for ``scripts/test --quick`` (``-m "not browser and not
    subprocess and not postgres ..."``): ``browser`` by its fixtures, ``subprocess`` by its
    module (the CLI run as a user would, engine processes killed and restarted)."""
    spawning: dict[Path, bool] = {}
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & _BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        path = Path(str(item.path))
        if path not in spawning:
            spawning[path] = _imports_subprocess(path)
        if spawning[path]:
            item.add_marker(pytest.mark.subprocess)


def _imports_subprocess(path: Path) -> bool:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return _SPAWNS.search(source) is not None
