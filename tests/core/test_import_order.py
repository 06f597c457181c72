"""Feature and catalog modules import on their own, first, in a fresh interpreter.

Features build on the catalog, and the catalog never imports a feature; an import
cycle between them would hide behind an import order that happens to work in a test run.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import reelforge

_PREFIXES = ("reelforge.features.", "reelforge.catalog")


def _modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(reelforge.__path__, "reelforge.")
        if info.name.startswith(_PREFIXES) and ".migrations" not in info.name
    ]


def _import_alone(name: str) -> str | None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode == 0:
        return None
    return f"{name}: {result.stderr.strip().splitlines()[-1]}"


def test_feature_and_catalog_modules_import_first_in_a_fresh_interpreter() -> None:
    modules = _modules()
    assert "reelforge.features.characters.repository" in modules
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(_import_alone, modules) if f is not None]
    assert failures == []
