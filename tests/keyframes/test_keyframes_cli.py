"""``reelforge render``, run as a user would: a real process, the local studio, files decoded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from PIL import Image

from keyframes.keyframes_support import storyboard


def reelforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    env.update({"COLUMNS": "200", "REELFORGE_LOG_LEVEL": "warning"})
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_render_prints_the_response_and_stores_the_frames(tmp_path: Path) -> None:
    board = tmp_path / "storyboard.json"
    board.write_text(json.dumps(storyboard(6, provider="local") | {"title": "Harbour"}))
    result = reelforge("render", str(board), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Rendering Harbour" in result.stderr  # the progress bar
    response = json.loads(result.stdout)
    assert response["failed_frames"] == []
    frames = response["generated_frames"]
    requested = [f["frame_id"] for f in json.loads(board.read_text())["storyboard_frames"]]
    assert [f["frame_id"] for f in frames] == requested
    media = tmp_path / "reelforge-data" / "media"
    for frame in frames:
        key = frame["image_url"].removeprefix("http://127.0.0.1:8000/media/")
        with Image.open(media / key) as image:
            assert image.size == (512, 288)
        assert frame["provider_metadata"]["model"] == "reelforge-previz-1"


def test_render_dry_run_of_the_bundled_sample_through_another_provider(tmp_path: Path) -> None:
    # The sample has a title and the frames' duration_seconds (for motion segments).
    sample = resources.files("reelforge.samples").joinpath("storyboard.json")
    board = tmp_path / "sample.json"
    board.write_text(sample.read_text())
    result = reelforge(
        "render", str(board), "--dry-run", "--provider", "fal_ai", "--json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["dry_run"] is True
    assert plan["render_plan"]["provider"] == "fal"
    assert len(plan["render_plan"]["frames"]) == 8
    assert plan["unpriced"] == []
    assert not (tmp_path / "reelforge-data" / "engine.sqlite").exists()  # no engine started
