"""``reelforge segments`` and ``reelforge assemble`` as a user runs them: real processes, the
offline local studio, the files decoded back."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from segments.segments_support import decoded_seconds, request_body


def _reelforge(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    environment.update({"COLUMNS": "200", **env})
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _data_uri(colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_segments_then_assemble_from_the_command_line(tmp_path: Path) -> None:
    env = {
        "REELFORGE_DATA_DIR": str(tmp_path / "data"),
        "REELFORGE_LOG_LEVEL": "warning",
        "REELFORGE_SEGMENTS__WIDTH": "320",
        "REELFORGE_SEGMENTS__HEIGHT": "180",
        "REELFORGE_PROVIDERS__LOCAL__FPS": "12",
    }
    body = request_body(
        [(1, 1), (1, 2), (2, 1)],
        [_data_uri((200, 60, 40)), _data_uri((40, 60, 200)), _data_uri((60, 160, 60))],
        durations=[1.0, 1.5, 2.0],
    )
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body))

    made = _reelforge("segments", str(request), "--json", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)
    assert answer["failed_segments"] == []
    media = tmp_path / "data" / "media"
    for segment, name in zip(answer["video_segments"], ("1_1", "2_1"), strict=True):
        stored = media / f"projects/proj-1/ep-1/segments/{answer['run_id']}/segment_{name}.mp4"
        assert segment["video_url"].endswith(f"segment_{name}.mp4")
        assert decoded_seconds(stored) == pytest.approx(segment["duration_seconds"], abs=0.05)

    joined = _reelforge("assemble", answer["run_id"], "--json", cwd=tmp_path, env=env)
    assert joined.returncode == 0, joined.stderr
    preview = json.loads(joined.stdout)
    assert preview["method"] == "stream_copy"
    key = f"projects/proj-1/ep-1/segments/preview_{answer['run_id']}.mp4"
    assert preview["video_url"].endswith(key)
    assert decoded_seconds(media / key) == pytest.approx(4.5, abs=0.1)
