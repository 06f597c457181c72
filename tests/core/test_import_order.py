"""Feature and catalog modules import on their own, first, as in a fresh interpreter.

Features build on the catalog, and the catalog never imports a feature; an import
cycle between them would hide behind an import order that happens to work in a test run.
One process loads the dependencies once and forks a child per module, which starts with no
Reelforge module loaded (``import_each_alone.py``): a fresh interpreter per module cost
minutes of start-up.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import reelforge

_PREFIXES = ("reelforge.features.", "reelforge.catalog")
_RUNNER = Path(__file__).with_name("import_each_alone.py")


def _modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(reelforge.__path__, "reelforge.")
        if info.name.startswith(_PREFIXES) and ".migrations" not in info.name
    ]


def _import_each_alone(*names: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run(
        [sys.executable, str(_RUNNER), *names],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=env,
    )


def test_feature_and_catalog_modules_import_first_in_a_fresh_interpreter() -> None:
    modules = _modules()
    assert "reelforge.features.characters.repository" in modules
    result = _import_each_alone(*modules)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_a_module_that_fails_to_import_is_named() -> None:
    result = _import_each_alone("reelforge.catalog", "reelforge.features.no_such_module")
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        "reelforge.features.no_such_module: ModuleNotFoundError: "
        "No module named 'reelforge.features.no_such_module'"
    ]
