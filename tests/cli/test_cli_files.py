"""Commands that make files, run in this process through Typer's runner: exit codes, the
errors on stderr, the files decoded back (``test_cli_commands.py`` runs real processes)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import av
import pytest
from PIL import Image

from fixtures.cli import run_reelforge

pytestmark = pytest.mark.usefixtures("restored_logging")


def test_db_upgrade_creates_the_catalog(tmp_path: Path) -> None:
    result = run_reelforge("db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert "revision" in result.stdout
    with closing(sqlite3.connect(tmp_path / "reelforge-data" / "reelforge.db")) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
    assert {"assets", "jobs", "job_events", "runs"} <= tables


def test_ingest_a_file_prints_the_record(tmp_path: Path) -> None:
    picture = tmp_path / "photo.bin"  # the name says nothing; the bytes do
    Image.new("RGB", (50, 40), (10, 200, 10)).save(picture, format="JPEG")
    result = run_reelforge("ingest", str(picture), "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["content_type"] == "image/jpeg"
    assert (record["width"], record["height"]) == (50, 40)
    assert (tmp_path / "reelforge-data" / "media" / record["key"]).is_file()


def test_ingest_refusal_is_a_clear_error(tmp_path: Path) -> None:
    result = run_reelforge("ingest", "http://169.254.169.254/latest/meta-data")
    assert result.exit_code == 1
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
    made = run_reelforge("studio", "previz", str(frame), "-o", str(still), "--aspect-ratio", "9:16")
    assert made.exit_code == 0, made.stderr
    with Image.open(still) as image:
        width, height = image.size
        layout = json.loads(image.info["reelforge-layout"])
    assert abs(width / height - 9 / 16) < 0.01
    assert layout["caption"] == "Mara at the lamp."  # beside the picture, not in it
    assert height <= 720

    clip = tmp_path / "out.mp4"
    animated = run_reelforge(
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
    )
    assert animated.exit_code == 0, animated.stderr
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
        assert sum(1 for _ in container.decode(stream)) == 24


def test_studio_previz_refuses_a_bad_frame(tmp_path: Path) -> None:
    frame = tmp_path / "frame.json"
    frame.write_text('{"description": "no id"}')
    result = run_reelforge("studio", "previz", str(frame), "-o", str(tmp_path / "x.png"))
    assert result.exit_code == 1
    assert "INVALID_INPUT" in result.stderr
    assert not (tmp_path / "x.png").exists()
