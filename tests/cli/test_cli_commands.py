"""The reelforge command, run as a user would: real processes, real files decoded back.

What the other commands do is tested in this process (``test_cli_files.py``): here the process
itself is the point, ``python -m reelforge`` starting and the demo's engine running in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
from PIL import Image

from reelforge import __version__


def reelforge(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    environment.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_version(tmp_path: Path) -> None:
    result = reelforge("version", cwd=tmp_path)
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_demo_renders_the_sample_storyboard(tmp_path: Path) -> None:
    result = reelforge("demo", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "8 key frames, 3 segments" in result.stdout
    assert "/runs/" in result.stdout
    media = tmp_path / "reelforge-data" / "media"
    stills = sorted((media / "assets").glob("*.png"))
    assert len(stills) == 8
    for path in stills:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == (1280, 720)
    segments = media / "projects" / "demo" / "lighthouse" / "segments"
    clips = sorted(segments.glob("*/segment_*.mp4"))
    assert [clip.name for clip in clips] == [
        "segment_1_1.mp4",
        "segment_2_1.mp4",
        "segment_3_1.mp4",
    ]
    lengths = [_duration(clip) for clip in clips]
    assert all(2.0 - 1 / 24 <= length <= 4.0 + 1 / 24 for length in lengths)
    assert sum(lengths) <= 12.0 + 1 / 24
    [preview] = sorted(segments.glob("preview_*.mp4"))
    assert abs(_duration(preview) - sum(lengths)) <= 3 / 24


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        rate = stream.average_rate
        assert rate == 24
        return frames / 24
