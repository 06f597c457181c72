"""``reelforge cutscene``, run as a user would: real processes, the local studio, files decoded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
from PIL import Image


def _reelforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    environment.update({"COLUMNS": "200", "REELFORGE_LOG_LEVEL": "warning"})
    return subprocess.run(
        [sys.executable, "-m", "reelforge", "cutscene", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_settings_trigger_and_gallery(tmp_path: Path) -> None:
    # Each command is a fresh process (seconds of imports): the few that matter, once each.
    settings = _json(
        _reelforge(
            "settings", "--campaign", "c1", "--enable", "--quality", "draft",
            "--clip-seconds", "1", "--json", cwd=tmp_path,
        )
    )  # fmt: skip
    assert (settings["enabled"], settings["quality"], settings["clip_duration_s"]) == (
        True,
        "draft",
        1.0,
    )

    made = _json(
        _reelforge(
            "trigger", "--campaign", "c1", "--session", "s1", "--turn", "2",
            "--new-npc", "Mara", "--image-prompt", "Mara at the door",
            "--character", "Mara", "--mood", "candlelit", "--json", cwd=tmp_path,
        )
    )  # fmt: skip
    assert (made["media_pending"], made["cutscene_type"]) == (True, "character_intro")
    image, video = made["media"]
    assert (image["status"], video["status"]) == ("complete", "complete")
    media_root = tmp_path / "reelforge-data" / "media"
    with Image.open(media_root / image["file_url"].split("/media/", 1)[1]) as still:
        assert still.size == (512, 288)
    with av.open(str(media_root / video["file_url"].split("/media/", 1)[1])) as clip:
        assert sum(1 for _ in clip.decode(video=0)) >= 12

    gallery = _json(_reelforge("gallery", "--campaign", "c1", "--json", cwd=tmp_path))
    assert sorted(m["id"] for m in gallery["media"]) == sorted(made["asset_ids"])
