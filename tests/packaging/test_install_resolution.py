"""``pip install reelforge`` resolves on Python 3.11, 3.12 and 3.13 from wheels alone, with
constraints.txt's versions; pyproject.toml states ranges, constraints.txt the exact tree.

The resolution asks the package index pip is configured with; where that index cannot be
reached, the resolution test skips and says so."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, cast

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
PYTHONS = ("3.11", "3.12", "3.13")
DEFAULT_INDEX = "https://pypi.org/simple/"
# pip resolves ~60 packages a Python; on a loaded machine that takes minutes.
RESOLVE_TIMEOUT_S = 900


def _pinned() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def _project() -> dict[str, Any]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return cast(dict[str, Any], pyproject["project"])


def _requirements() -> list[Requirement]:
    project = _project()
    extras = project.get("optional-dependencies", {}).values()
    return [Requirement(raw) for raw in [*project["dependencies"], *(r for e in extras for r in e)]]


def test_the_package_states_ranges_and_constraints_pin_each_of_them() -> None:
    pins = _pinned()
    for requirement in _requirements():
        operators = {spec.operator for spec in requirement.specifier}
        assert "==" not in operators, requirement
        assert "<" in operators, f"{requirement}: no upper bound"
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins)


def _index_url() -> str:
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    configured = re.findall(r"^\S*\.index-url='([^']*)'$", listed, re.M)
    return configured[-1] if configured else DEFAULT_INDEX


@pytest.fixture(scope="module")
def reachable_index() -> str:
    url = _index_url()
    probe = url.rstrip("/") + "/sqlalchemy/"
    try:
        with urllib.request.urlopen(probe, timeout=15):
            pass
    except (urllib.error.URLError, OSError) as exc:
        pytest.skip(f"the package index {url} is unreachable ({exc}); the resolution needs it")
    return url


def _metadata_only_project(folder: Path) -> Path:
    """The project's metadata without its sources, so pip's build writes nothing in the tree."""
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copy(ROOT / "README.md", folder / "README.md")
    (folder / "src" / "reelforge").mkdir(parents=True)
    (folder / "src" / "reelforge" / "__init__.py").touch()
    return folder


def test_pip_install_resolves_from_wheels_on_each_supported_python(
    reachable_index: str, tmp_path: Path
) -> None:
    project = _metadata_only_project(tmp_path)
    resolving = {
        python: subprocess.Popen(
            [
                *(sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"),
                *("--only-binary=:all:", "--python-version", python, "--quiet"),
                *("--report", str(tmp_path / f"report-{python}.json")),
                *("--constraint", str(CONSTRAINTS), str(project)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for python in PYTHONS
    }
    pins = _pinned()
    for python, pip in resolving.items():
        output, _ = pip.communicate(timeout=RESOLVE_TIMEOUT_S)
        assert pip.returncode == 0, f"Python {python}:\n{output[-3000:]}"
        report = json.loads((tmp_path / f"report-{python}.json").read_text(encoding="utf-8"))
        installed: dict[str, str] = {
            canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
            for item in report["install"]
        }
        assert installed.pop("reelforge") == _project()["version"]
        unpinned = {
            name: version for name, version in installed.items() if pins.get(name) != version
        }
        assert unpinned == {}, f"Python {python}: resolved outside constraints.txt"
