"""The documentation site builds with ``mkdocs build --strict``: a broken link, a page left out
of a missing nav entry or a bad setting in ``mkdocs.yml`` fails the build, and so this test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_build_strictly_without_warnings(tmp_path: Path) -> None:
    pytest.importorskip(
        "mkdocs",
        reason="mkdocs is not installed: install the docs extra (pip install -e '.[docs]'); "
        "scripts/test does",
    )
    site = tmp_path / "site"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO_ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        # Material's end-of-life notice is not a warning about these pages.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "WARNING" not in output, output
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Reelforge" in home
    assert "images/demo-contact-sheet.png" in home
