"""Importing the error tree, or the package itself, loads neither the settings nor a feature.

Checked in a fresh interpreter: in the test process everything is loaded already.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_LIST_LOADED = (
    "import sys; import {module}; "
    "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('reelforge'))))"
)


def _loaded_after_importing(module: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _LIST_LOADED.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("module", ["reelforge", "reelforge.errors"])
def test_importing_loads_no_settings_and_no_feature(module: str) -> None:
    loaded = _loaded_after_importing(module)
    assert module in loaded
    assert "reelforge.settings" not in loaded
    assert sorted(m for m in loaded if m.startswith("reelforge.features")) == []


def test_the_package_still_offers_settings_and_the_error_base_when_asked() -> None:
    loaded = _loaded_after_importing("reelforge; reelforge.Settings; reelforge.ReelforgeError")
    assert {"reelforge.settings", "reelforge.errors"} <= loaded
