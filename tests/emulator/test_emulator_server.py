"""Running the emulator: the server, ``reelforge emulate``, its environment, its media."""

from __future__ import annotations

import asyncio
import shlex

import httpx
import pytest
import typer
from typer.testing import CliRunner

from reelforge.cli.emulate import emulate
from reelforge.emulator import (
    EmulatorConfig,
    EmulatorServer,
    build_emulator_app,
    emulator_context,
    emulator_env,
)
from reelforge.emulator.media import MediaLibrary
from reelforge.settings import Settings


def test_environment_points_settings_at_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    env = emulator_env("http://127.0.0.1:8910/")
    assert env["REELFORGE_PROVIDERS__FAL__BASE_URL"] == "http://127.0.0.1:8910/fal"
    assert env["FAL_KEY"]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.provider_section("fal") == {"base_url": "http://127.0.0.1:8910/fal"}
    assert settings.ingest.allowed_hosts == ["127.0.0.1:8910"]


def test_print_env_prints_shell_lines() -> None:
    app = typer.Typer()
    app.command()(emulate)
    result = CliRunner().invoke(app, ["--print-env", "--port", "9001", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.output.splitlines())
    assert lines["REELFORGE_PROVIDERS__FAL__BASE_URL"] == "http://127.0.0.1:9001/fal"
    assert shlex.split(lines["REELFORGE_INGEST__ALLOWED_HOSTS"]) == ['["127.0.0.1:9001"]']


def test_server_runs_a_given_app_and_stops() -> None:
    app = build_emulator_app(config=EmulatorConfig(latency_s=0.0))
    with EmulatorServer(app) as server:
        health = httpx.get(f"{server.base_url}/_emulator/health")
        assert health.json()["ok"] is True
        config = httpx.get(f"{server.base_url}/_emulator/config").json()
        assert config["latency_s"] == 0.0
        assert emulator_context(app).state.config.latency_s == 0.0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/_emulator/health")


async def test_media_is_rendered_once_per_size_and_capped() -> None:
    media = MediaLibrary(max_image_side=256, max_video_side=128, video_fps=4)
    first, second = await asyncio.gather(media.image(2048, 1024), media.image(2048, 1024))
    assert first is second
    assert (first.width, first.height, first.name) == (256, 128, "image-256x128.png")
    assert first.data.startswith(b"\x89PNG")
    assert media.get(first.name) is first
    clip = await media.video(1280, 720, 1.2)
    assert (clip.width, clip.height, clip.duration_s) == (128, 72, 1.0)
    assert clip.data[4:8] == b"ftyp"
    jpeg = await media.image(100, 100, "jpeg")
    assert (jpeg.content_type, jpeg.data[:3]) == ("image/jpeg", b"\xff\xd8\xff")
