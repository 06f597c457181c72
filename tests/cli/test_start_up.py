"""Starting the CLI loads only what the command run needs.

``reelforge --help`` and ``reelforge version`` need none of the heavy packages (web framework,
ORM, job engine, database drivers, media libraries), and neither does ``import reelforge``:
each command imports those when it runs. Checked in a fresh interpreter, by the modules loaded
when it exits (in the test process everything is loaded already). The time this saves is
measured by ``bench/cli_start.py``, not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reelforge.cli.heavy import HEAVY_PACKAGES as HEAVY

# Writes the names of the modules loaded at exit to the file named first, then runs the rest.
_LISTING = (
    "import atexit, sys\n"
    "def _write(path=sys.argv.pop(1)):\n"
    "    with open(path, 'w') as out:\n"
    "        out.write('\\n'.join(sorted(sys.modules)))\n"
    "atexit.register(_write)\n"
)
# What the ``reelforge`` entry point runs.
_CLI = "sys.argv[0] = 'reelforge'\nfrom reelforge.cli import main\nmain()\n"


def _run(
    code: str, args: list[str], tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    listing = tmp_path / "modules.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    env.update({"COLUMNS": "100", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    result = subprocess.run(
        [sys.executable, "-c", _LISTING + code, str(listing), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, set(listing.read_text().split())


def _heavy(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.partition(".")[0] in HEAVY)


@pytest.mark.parametrize(
    ("args", "shown"),
    [(["--help"], "Usage: reelforge"), (["version"], "reelforge 0.1.0")],
)
def test_help_and_version_load_no_heavy_package(
    args: list[str], shown: str, tmp_path: Path
) -> None:
    result, modules = _run(_CLI, args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert shown in result.stdout
    assert _heavy(modules) == []
    # Nor the composition root, the settings or a feature's code.
    assert "reelforge.services" not in modules
    assert "reelforge.settings" not in modules


@pytest.mark.parametrize("module", ["reelforge", "reelforge.cli"])
def test_importing_the_package_or_the_cli_loads_no_heavy_package(
    module: str, tmp_path: Path
) -> None:
    result, modules = _run(f"import {module}\n", [], tmp_path)
    assert result.returncode == 0, result.stderr
    assert module in modules
    assert _heavy(modules) == []


def test_a_command_still_loads_what_it_uses(tmp_path: Path) -> None:
    """The check sees heavy imports: ``studio previz`` draws with Pillow when it runs."""
    frame = tmp_path / "frame.json"
    frame.write_text('{"frame_id": "f1", "description": "a lighthouse at dusk"}')
    args = ["studio", "previz", str(frame), "-o", str(tmp_path / "f1.png")]
    result, modules = _run(_CLI, args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "PIL" in modules
    assert (tmp_path / "f1.png").read_bytes().startswith(b"\x89PNG")
