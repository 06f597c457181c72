"""The public URL: read from REELFORGE_PUBLIC_URL, SITE_URL or reelforge.toml; the base of media
URLs, webhooks and page links; and start-up refusing addresses no client can open."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from reelforge.cli.app import app
from reelforge.cli.demo_serve import serving_settings
from reelforge.cli.worker import run_worker
from reelforge.errors import ConfigurationError, PublicUrlRequired
from reelforge.settings import Settings, require_public_url

PUBLIC = "https://studio.example.test"


def test_the_public_url_is_read_from_either_variable_and_reelforge_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SITE_URL", "https://site.example.test/")
    assert Settings().public_url == "https://site.example.test"
    monkeypatch.setenv("REELFORGE_PUBLIC_URL", PUBLIC)
    assert Settings().public_url == PUBLIC


def test_the_public_url_is_read_from_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "reelforge.toml").write_text(f'public_url = "{PUBLIC}/studio/"\n')
    assert Settings().public_url == f"{PUBLIC}/studio"


def test_media_webhooks_and_pages_start_with_the_public_url() -> None:
    settings = Settings(public_url=PUBLIC, server={"host": "0.0.0.0", "port": 9000})
    assert settings.service_url == PUBLIC
    assert settings.public_base_url == f"{PUBLIC}/media"
    assert settings.webhook_base_url == PUBLIC
    for face in ("serve", "worker", "mcp"):
        assert require_public_url(settings, face) == PUBLIC
    # Media served from elsewhere (a CDN) keeps its own base; the rest stays on the service.
    cdn = Settings(public_url=PUBLIC, store={"public_base_url": "https://cdn.example.test/m/"})
    assert cdn.public_base_url == "https://cdn.example.test/m"


def test_with_nothing_set_a_loopback_bind_is_the_address_and_nothing_calls_back() -> None:
    settings = Settings()
    assert require_public_url(settings, "serve") == "http://127.0.0.1:8000"
    assert require_public_url(settings, "worker") == "http://127.0.0.1:8000"
    assert settings.public_base_url == "http://127.0.0.1:8000/media"
    assert settings.webhook_base_url is None  # loopback: polling only, as before
    ipv6 = Settings(server={"host": "::1", "port": 8100})
    assert require_public_url(ipv6, "serve") == "http://[::1]:8100"


@pytest.mark.parametrize(
    ("server", "named"),
    [
        ({"host": "0.0.0.0"}, "server.host 0.0.0.0"),
        ({"host": "::"}, "server.host ::"),
        ({"host": "[::]"}, "server.host [::]"),
        ({"port": 0}, "server.port 0"),
    ],
)
def test_start_up_refuses_an_address_no_client_can_open(
    server: dict[str, object], named: str
) -> None:
    settings = Settings(server=server)
    for face in ("serve", "worker"):
        with pytest.raises(PublicUrlRequired, match=re.escape(named)) as refused:
            require_public_url(settings, face)
        assert isinstance(refused.value, ConfigurationError)
        assert refused.value.code == "PUBLIC_URL_REQUIRED"
        assert "REELFORGE_PUBLIC_URL" in refused.value.message
        assert refused.value.details["setting"] == "public_url"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://0.0.0.0:8000", "bind-all address"),
        ("https://[::]/", "bind-all address"),
        ("studio.example.test", "http:// or https://"),
        ("ftp://studio.example.test", "http:// or https://"),
        (f"{PUBLIC}/?next=1", "no query"),
        ("https://user:pw@studio.example.test", "no query, fragment or user"),
    ],
)
def test_a_public_url_that_is_no_base_url_is_refused(value: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(public_url=value)


def test_a_worker_on_a_bind_all_address_refuses_before_opening_anything(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", server={"host": "0.0.0.0"})
    stop = asyncio.Event()
    stop.set()
    with pytest.raises(PublicUrlRequired, match=re.escape("server.host 0.0.0.0")):
        asyncio.run(run_worker(settings, stop=stop))
    assert not (tmp_path / "data").exists()


@pytest.mark.usefixtures("restored_logging")
def test_the_stdio_mcp_server_needs_a_public_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["mcp"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "PUBLIC_URL_REQUIRED: reelforge mcp serves no HTTP" in result.output
    assert "REELFORGE_PUBLIC_URL" in result.output
    assert not (tmp_path / "reelforge-data").exists()


@pytest.mark.usefixtures("restored_logging")
def test_an_unusable_public_url_is_named_with_its_problem(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["db", "upgrade"], env={"COLUMNS": "200", "SITE_URL": "http://0.0.0.0:8000"}
    )
    assert result.exit_code == 2, result.output
    assert "Invalid settings: REELFORGE_PUBLIC_URL" in result.output
    assert "0.0.0.0 is a bind-all address" in result.output
    assert not (tmp_path / "reelforge-data").exists()


def test_the_demo_served_on_a_bind_all_address_needs_a_public_url() -> None:
    settings = Settings(auth={"tokens": ["demo-token-1"]})
    with pytest.raises(PublicUrlRequired, match=re.escape("server.host 0.0.0.0")):
        serving_settings(settings, "0.0.0.0", 8000)
    public = settings.model_copy(update={"public_url": PUBLIC})
    assert serving_settings(public, "0.0.0.0", 0).service_url == PUBLIC
