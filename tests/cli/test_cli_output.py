"""What the commands print: lines and tables for a person, JSON with ``--json``; ids by prefix.

Run in this process through Typer's runner (the CLI's own code path); conftest runs each test in
its own folder with no REELFORGE_* variables, so the commands use ./reelforge-data.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from fixtures.catalog_data import add_job
from reelforge.cli.app import app
from reelforge.cli.jobs import shortest_unique_prefixes
from reelforge.services import open_services
from reelforge.settings import Settings

RUN_A = "abcd1111" + "0" * 24
RUN_B = "abcd2222" + "0" * 24


pytestmark = pytest.mark.usefixtures("restored_logging")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})


def ok(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_studio_animatic_prints_a_sentence_or_json(tmp_path: Path) -> None:
    still = tmp_path / "still.png"
    Image.new("RGB", (64, 36), (200, 120, 40)).save(still)
    clip = tmp_path / "clip.mp4"
    common = ("studio", "animatic", str(still), "-o", str(clip), "--camera", "push-in")
    sizes = ("--duration", "1", "--width", "160", "--height", "96")

    human = ok(*common, *sizes)
    assert "AnimaticInfo" not in human
    assert "PosixPath" not in human
    assert f"wrote {clip}: 160x96, 1 s at 24 fps (24 frames), camera push in" in human

    machine = json.loads(ok(*common, *sizes, "--json"))
    assert machine["path"] == str(clip)
    assert (machine["width"], machine["frame_count"], machine["camera"]) == (160, 24, "push_in")


def test_ingest_prints_lines_or_json(tmp_path: Path) -> None:
    picture = tmp_path / "photo.jpg"
    Image.new("RGB", (50, 40), (10, 200, 10)).save(picture, format="JPEG")
    human = ok("ingest", str(picture))
    assert "content type: image/jpeg" in human
    assert "{" not in human
    record = json.loads(ok("ingest", str(picture), "--json"))
    assert (record["width"], record["height"]) == (50, 40)


def test_a_dry_run_starts_with_a_one_line_summary(tmp_path: Path) -> None:
    board = tmp_path / "board.json"
    sample = resources.files("reelforge.samples").joinpath("storyboard.json")
    board.write_text(sample.read_text())
    human = ok("render", str(board), "--dry-run")
    first_line = human.splitlines()[0]
    assert first_line == (
        "Dry run (keyframes): 8 jobs on local, $0.00, within budget; nothing was called."
    )
    assert len(human.splitlines()) < 30
    assert "render_plan" not in human

    plan = json.loads(ok("render", str(board), "--dry-run", "--json"))
    assert plan["dry_run"] is True
    assert len(plan["render_plan"]["frames"]) == 8


def test_commands_log_only_warnings_unless_verbose(tmp_path: Path) -> None:
    board = tmp_path / "board.json"
    sample = resources.files("reelforge.samples").joinpath("storyboard.json")
    board.write_text(sample.read_text())
    quiet = invoke("render", str(board), "--dry-run")
    assert "[info" not in quiet.stderr
    loud = invoke("-v", "render", str(board), "--dry-run")
    assert "[info" in loud.stderr


def test_jobs_show_takes_a_unique_prefix_and_names_the_candidates_of_an_ambiguous_one() -> None:
    async def seed() -> str:
        async with open_services(Settings(auth={"enabled": False})) as services:
            for run_id in (RUN_A, RUN_B):
                await services.catalog.runs.create(feature="keyframes", input={}, run_id=run_id)
            return (await add_job(services.catalog, run_id=RUN_A)).id

    job_id = asyncio.run(seed())

    shown = json.loads(ok("jobs", "show", job_id[:12], "--json"))
    assert shown["id"] == job_id
    human = ok("jobs", "show", job_id[:12])
    assert f"job {job_id}" in human
    assert "provider: local" in human
    run = json.loads(ok("jobs", "show", "abcd1", "--json"))
    assert run["id"] == RUN_A

    ambiguous = invoke("jobs", "show", "abcd")
    assert ambiguous.exit_code == 1
    assert "INVALID_INPUT" in ambiguous.stderr
    assert RUN_A in ambiguous.stderr
    assert RUN_B in ambiguous.stderr

    missing = invoke("jobs", "show", "ffff")
    assert missing.exit_code == 1
    assert "NOT_FOUND" in missing.stderr

    listed = ok("jobs", "list")
    assert job_id[:8] in listed
    assert "abcd1111" in listed  # the run's column: unique at 8 characters, not cut further


def test_shortest_unique_prefixes_grow_until_unique() -> None:
    short = shortest_unique_prefixes(["0123456789ab", "0123456789ff", "fedcba9876543210", ""])
    assert short == {
        "0123456789ab": "0123456789a",
        "0123456789ff": "0123456789f",
        "fedcba9876543210": "fedcba98",
    }
