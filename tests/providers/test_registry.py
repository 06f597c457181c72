"""The provider registry and the shared parts of the provider contract."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fixtures.services import local_settings
from reelforge.errors import ConfigurationError, InvalidInput, MissingCredential
from reelforge.providers.base import ProviderDeps, read_key
from reelforge.providers.local.studio import LocalStudio
from reelforge.providers.registry import PROVIDER_CLASSES, ProviderRegistry


@pytest.fixture
async def deps() -> ProviderDeps:
    return ProviderDeps(http=httpx.AsyncClient(), environ={})


async def test_default_provider_is_the_local_studio(tmp_path: Path, deps: ProviderDeps) -> None:
    registry = ProviderRegistry(local_settings(tmp_path), deps)
    provider = registry.get()
    assert isinstance(provider, LocalStudio)
    assert registry.get("local") is provider  # built once, cached
    assert "local" in registry.ids
    await registry.aclose()
    await deps.http.aclose()


def test_unknown_provider_in_settings_is_refused(tmp_path: Path, deps: ProviderDeps) -> None:
    settings = local_settings(tmp_path, providers={"nonesuch": {"base_url": "http://x"}})
    with pytest.raises(ConfigurationError, match="nonesuch"):
        ProviderRegistry(settings, deps)


def test_unknown_default_provider_is_refused(tmp_path: Path, deps: ProviderDeps) -> None:
    with pytest.raises(ConfigurationError, match="default provider"):
        ProviderRegistry(local_settings(tmp_path, default_provider="nope"), deps)


def test_bad_provider_settings_are_refused_when_the_registry_is_built(
    tmp_path: Path, deps: ProviderDeps
) -> None:
    settings = local_settings(tmp_path, providers={"local": {"max_widht": 10}})
    with pytest.raises(ConfigurationError) as caught:
        ProviderRegistry(settings, deps)
    assert [p["setting"] for p in caught.value.details["settings"]] == ["providers.local.max_widht"]


def test_asking_for_an_unknown_provider_is_invalid_input(
    tmp_path: Path, deps: ProviderDeps
) -> None:
    registry = ProviderRegistry(local_settings(tmp_path), deps)
    with pytest.raises(InvalidInput) as caught:
        registry.get("midjourney")
    assert caught.value.details["known"] == sorted(PROVIDER_CLASSES)


def test_read_key_names_the_variable_and_never_the_value() -> None:
    assert read_key("fal", "FAL_KEY", {"FAL_KEY": " k-123 "}) == "k-123"
    with pytest.raises(MissingCredential) as caught:
        read_key("fal", "FAL_KEY", {"FAL_KEY": ""})
    assert "FAL_KEY" in caught.value.message
    with pytest.raises(InvalidInput):
        read_key("fal", "fal key", {})
