"""Settings: defaults, reelforge.toml, REELFORGE_* variables with __ nesting, provider sections."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from reelforge.settings import Settings


def test_defaults_live_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.data_dir == Path("reelforge-data")
    assert settings.effective_database_url == (
        f"sqlite+aiosqlite:///{(tmp_path / 'reelforge-data' / 'reelforge.db').resolve()}"
    )
    assert settings.media_root == (tmp_path / "reelforge-data" / "media").resolve()
    assert settings.public_base_url == "http://127.0.0.1:8000/media"
    assert settings.store.kind == "local"
    assert settings.auth.enabled is True
    assert settings.default_provider == "local"


def test_environment_nests_with_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELFORGE_STORE__KIND", "s3")
    monkeypatch.setenv("REELFORGE_STORE__S3__BUCKET", "frames")
    monkeypatch.setenv("REELFORGE_PROVIDERS__FAL__BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("REELFORGE_AUTH__TOKENS", '["tok-alpha-91", "tok-beta-92"]')
    settings = Settings()
    assert settings.store.kind == "s3"
    assert settings.store.s3.bucket == "frames"
    assert settings.provider_section("fal") == {"base_url": "http://127.0.0.1:9/"}
    assert [t.get_secret_value() for t in settings.auth.tokens] == ["tok-alpha-91", "tok-beta-92"]
    assert "tok-alpha-91" not in repr(settings)


def test_toml_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "reelforge.toml").write_text(
        'data_dir = "/srv/rf"\n[server]\nport = 9000\nhost = "0.0.0.0"\n'
        "[providers.local]\nmax_width = 640\n"
    )
    monkeypatch.setenv("REELFORGE_SERVER__PORT", "9100")
    settings = Settings()
    assert settings.data_dir == Path("/srv/rf")
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 9100
    assert settings.provider_section("local") == {"max_width": 640}


def test_unknown_fields_are_refused(tmp_path: Path) -> None:
    (tmp_path / "reelforge.toml").write_text("[store]\nkindd = 's3'\n")
    with pytest.raises(ValidationError, match="kindd"):
        Settings()


def test_provider_specific_fields_are_not_in_the_root() -> None:
    root_fields = set(Settings.model_fields)
    assert not {"fal", "replicate", "fal_key", "base_url"} & root_fields
