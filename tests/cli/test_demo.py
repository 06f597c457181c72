"""``reelforge demo`` as a user runs it: a real process, its printed page fetched over HTTP and
opened in Chromium, its files decoded back, on the emulator's fal and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image
from playwright.async_api import Page

from fixtures import browser as browser_fixtures
from fixtures import emulator as emulator_fixtures
from fixtures.database import postgres_database
from reelforge.emulator import EmulatorServer
from reelforge.emulator.server import emulator_env

browser = browser_fixtures.browser
page = browser_fixtures.page
emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

_RENDER_S = 600.0
_STOP_S = 60.0
_FRAMES = [
    f"SCENE_{scene}_SHOT_{shot}"
    for scene, shots in ((1, 3), (2, 3), (3, 2))
    for shot in range(1, shots + 1)
]
_SEGMENTS = ["SEGMENT_1", "SEGMENT_2", "SEGMENT_3"]


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    environment.update({"COLUMNS": "200", **(extra or {})})
    return environment


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


#: The README's first command. It finds this test's virtual environment installed (its
#: ``dev,faces,docs`` install serves the demo's ``faces``) and runs in the repository's root,
#: so the data directory is named.
SCRIPTS_DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo"


@asynccontextmanager
async def _demo_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, readme_command: bool = False
) -> AsyncIterator[asyncio.subprocess.Process]:
    command = [sys.executable, "-m", "reelforge", "demo"]
    environment = dict(env or {})
    if readme_command:
        command = ["bash", str(SCRIPTS_DEMO)]
        environment |= {
            "REELFORGE_VENV": sys.prefix,
            "REELFORGE_DATA_DIR": str(cwd / "reelforge-data"),
        }
    with (cwd / "stderr.txt").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *command,
            *args,
            cwd=cwd,
            env=_environment(environment),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _read_until(process: asyncio.subprocess.Process, prefix: str) -> tuple[str, str]:
    """Everything printed up to the first line starting with ``prefix``, and that line."""
    assert process.stdout is not None
    seen: list[str] = []
    async with asyncio.timeout(_RENDER_S):
        while line := (await process.stdout.readline()).decode():
            if line.startswith(prefix):
                return "".join(seen), line.strip()
            seen.append(line)
    raise AssertionError(f"the demo ended without printing {prefix!r}:\n{''.join(seen)}")


def _table_rows(output: str, first_cell: str) -> dict[str, list[str]]:
    """Rows of the printed tables whose first cell starts with ``first_cell``, by that cell."""
    rows = {}
    for line in output.splitlines():
        if "│" not in line:
            continue
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells and cells[0].startswith(first_cell):
            rows[cells[0]] = cells
    return rows


def _colours(image: Image.Image) -> int:
    """Distinct colours in a 64x36 thumbnail: a blank or flat image has a handful."""
    small = image.convert("RGB").resize((64, 36))
    return len(small.getcolors(maxcolors=64 * 36) or ())


def _check_demo_files(folder: Path) -> None:
    frames = sorted((folder / "frames").glob("*.png"))
    assert [path.stem for path in frames] == _FRAMES
    with Image.open(folder / "contact_sheet.png") as sheet:
        assert sheet.format == "PNG"
        # Four thumbnails a row, two rows: wider than one frame, and not blank.
        assert sheet.width > sheet.height
        assert _colours(sheet) > 50
    with Image.open(folder / "poster.png") as poster:
        assert poster.format == "PNG"
        assert poster.size == (1280, 720)
        assert _colours(poster) > 50
    assert sorted(path.stem for path in (folder / "segments").glob("*.mp4")) == _SEGMENTS
    with av.open(str(folder / "preview.mp4")) as container:
        stream = container.streams.video[0]
        assert sum(1 for _ in container.decode(stream)) > 24 * 6


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_demo_serve_serves_the_run_it_rendered(
    tmp_path: Path, page: Page, stop: signal.Signals
) -> None:
    port = _free_port()
    # Ctrl-C through the README's own command (scripts/demo); SIGTERM straight to the CLI.
    readme_command = stop is signal.SIGINT
    async with _demo_process(
        "--serve", "--port", str(port), cwd=tmp_path, readme_command=readme_command
    ) as process:
        printed, run_line = await _read_until(process, "Run page:")
        url = run_line.removeprefix("Run page:").strip()
        assert url.startswith(f"http://127.0.0.1:{port}/runs/")
        run_id = url.rsplit("/", 1)[1]
        assert "8 key frames, 3 segments" in printed
        assert "Auth is off" in printed

        async with httpx.AsyncClient() as http:
            answer = await http.get(url)
            assert answer.status_code == 200
            assert run_id in answer.text
            run = (await http.get(f"http://127.0.0.1:{port}/v1/runs/{run_id}")).json()
            assert run["status"] == "succeeded"
            assert len(run["jobs"]) == 8

        opened = await page.goto(url)
        assert opened is not None
        assert opened.status == 200
        assert run_id in await page.title()
        images = page.locator("img")
        await images.first.wait_for()
        assert await images.count() >= 8

        _check_demo_files(tmp_path / "reelforge-data" / "demo" / "lighthouse")
        process.send_signal(stop)
        async with asyncio.timeout(_STOP_S):
            assert await process.wait() == 0, (tmp_path / "stderr.txt").read_text()


async def test_demo_serve_refuses_a_busy_port_before_rendering(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with _demo_process("--serve", "--port", str(port), cwd=tmp_path) as process:
            async with asyncio.timeout(_STOP_S):
                assert await process.wait() == 1
    error = (tmp_path / "stderr.txt").read_text()
    assert "INVALID_INPUT" in error
    assert str(port) in error
    assert not (tmp_path / "reelforge-data" / "demo").exists()


async def test_demo_on_fal_runs_every_stage_on_fal(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: emulator_fixtures.EmulatorControl
) -> None:
    env = emulator_env(emulator_server.base_url) | {
        "REELFORGE_SEGMENTS__POLL_INTERVAL_S": "0.2",
        "REELFORGE_SEGMENTS__AFTER_CAP_INTERVAL_S": "0.2",
    }
    async with _demo_process("--provider", "fal", cwd=tmp_path, env=env) as process:
        assert process.stdout is not None
        async with asyncio.timeout(_RENDER_S):
            output = (await process.stdout.read()).decode()
            assert await process.wait() == 0, (tmp_path / "stderr.txt").read_text()
    frames = _table_rows(output, "SCENE_")
    segments = _table_rows(output, "SEGMENT_")
    assert sorted(frames) == _FRAMES
    assert sorted(segments) == _SEGMENTS
    # frame | provider | model ...; segment | key frames | provider | model ...
    assert {row[1] for row in frames.values()} == {"fal"}
    assert {row[2] for row in segments.values()} == {"fal"}
    assert all(row[2] and row[2] != "-" for row in frames.values())
    assert all(row[3] and row[3] != "-" for row in segments.values())
    billed = (await emulator.ledger("fal"))["billed"]
    assert len(billed) == len(_FRAMES) + len(_SEGMENTS)


@pytest.mark.postgres
async def test_demo_on_postgresql_runs_its_own_work(tmp_path: Path) -> None:
    async with postgres_database() as database_url:
        env = {"REELFORGE_DATABASE_URL": database_url}
        async with _demo_process(cwd=tmp_path, env=env) as process:
            assert process.stdout is not None
            async with asyncio.timeout(_RENDER_S):
                output = (await process.stdout.read()).decode()
                assert await process.wait() == 0, (tmp_path / "stderr.txt").read_text()
    assert "8 key frames, 3 segments" in output
    assert len(_table_rows(output, "SCENE_")) == 8
