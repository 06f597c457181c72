"""The reelforge command, run as a user would: real processes, real files decoded back."""

from __future__ import annotations

import json
import os
import sqlite3
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


def test_db_upgrade_creates_the_catalog(tmp_path: Path) -> None:
    result = reelforge("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "revision" in result.stdout
    with sqlite3.connect(tmp_path / "reelforge-data" / "reelforge.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
    assert {"assets", "jobs", "job_events", "runs"} <= tables


def test_ingest_a_file_prints_the_record(tmp_path: Path) -> None:
    picture = tmp_path / "photo.bin"  # the name says nothing; the bytes do
    Image.new("RGB", (50, 40), (10, 200, 10)).save(picture, format="JPEG")
    result = reelforge("ingest", str(picture), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["content_type"] == "image/jpeg"
    assert (record["width"], record["height"]) == (50, 40)
    assert (tmp_path / "reelforge-data" / "media" / record["key"]).is_file()


def test_ingest_refusal_is_a_clear_error(tmp_path: Path) -> None:
    result = reelforge("ingest", "http://169.254.169.254/latest/meta-data", cwd=tmp_path)
    assert result.returncode == 1
    assert "URL_NOT_ALLOWED" in result.stderr


def test_studio_previz_and_animatic(tmp_path: Path) -> None:
    frame = tmp_path / "frame.json"
    frame.write_text(
        json.dumps(
            {
                "frame_id": "S1",
                "description": "Mara at the lamp.",
                "camera_notes": "close-up",
                "lighting_mood": "candlelit",
                "characters": [{"name": "Mara", "visual_signature": "red scarf"}],
            }
        )
    )
    still = tmp_path / "out.png"
    made = reelforge(
        "studio", "previz", str(frame), "-o", str(still), "--aspect-ratio", "9:16", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    with Image.open(still) as image:
        width, height = image.size
    assert abs(width / height - 9 / 16) < 0.01
    assert height <= 720

    clip = tmp_path / "out.mp4"
    animated = reelforge(
        "studio",
        "animatic",
        str(still),
        "--camera",
        "push-in",
        "--duration",
        "1",
        "--width",
        "320",
        "--height",
        "180",
        "-o",
        str(clip),
        cwd=tmp_path,
    )
    assert animated.returncode == 0, animated.stderr
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        assert sum(1 for _ in container.decode(stream)) == 24


def test_studio_previz_refuses_a_bad_frame(tmp_path: Path) -> None:
    frame = tmp_path / "frame.json"
    frame.write_text('{"description": "no id"}')
    result = reelforge("studio", "previz", str(frame), "-o", str(tmp_path / "x.png"), cwd=tmp_path)
    assert result.returncode == 1
    assert "INVALID_INPUT" in result.stderr
    assert not (tmp_path / "x.png").exists()


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
