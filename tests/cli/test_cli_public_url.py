"""``reelforge serve`` on a bind-all address with no public URL, run as a user would: refused
at start-up, naming the setting, before anything is created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_serve_on_a_bind_all_address_without_a_public_url_is_refused(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    environment.pop("SITE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "reelforge", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        env=environment | {"COLUMNS": "200"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PUBLIC_URL_REQUIRED: server.host 0.0.0.0" in result.stderr
    assert "set REELFORGE_PUBLIC_URL (or SITE_URL" in result.stderr
    assert not (tmp_path / "reelforge-data").exists()  # refused before migrating anything
