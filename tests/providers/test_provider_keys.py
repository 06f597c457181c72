"""The specs' names for a provider's key are read beside the vendor's own, and start-up says
which providers are configured, by name, never by value."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import CapturedLogs, EmulatorControl
from fixtures.services import local_settings
from providers.contract.contract_cases import PROVIDER_CASES
from providers.contract.contract_support import settle, still_request
from reelforge.cli.common import announce_providers
from reelforge.errors import MissingCredential
from reelforge.features.transform.config import TransformSettings
from reelforge.features.transform.planning import choose_providers
from reelforge.providers.base import ProviderDeps, Succeeded
from reelforge.providers.registry import ProviderRegistry

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator
captured_logs = emulator_fixtures.captured_logs

KEY = "spec-named-key-5c1e"
OTHER_KEY = "vendor-named-key-77aa"
#: The variables the specs (and the vendors' SDKs beside the one we read) name for each key.
SPEC_NAMES = [
    ("runway", "RUNWAY_API_KEY"),  # cinematic switch spec
    ("google", "GOOGLE_API_KEY"),  # the Gemini SDK's preferred name
    ("fal", "FAL_IMAGE_TO_VIDEO"),  # motion segments spec
    ("fal", "FAL_TEXT_TO_VIDEO"),
]

Registries = Callable[[dict[str, str]], ProviderRegistry]


@pytest.fixture
async def registries(emulator: EmulatorControl, tmp_path: Path) -> AsyncIterator[Registries]:
    """Registries over the emulator, each with the environment given."""
    built: list[ProviderRegistry] = []
    sections = {case.id: case.settings(emulator.base_url) for case in PROVIDER_CASES}
    async with httpx.AsyncClient(trust_env=False) as http:

        def build(environ: dict[str, str]) -> ProviderRegistry:
            settings = local_settings(tmp_path, providers=sections)
            registry = ProviderRegistry(settings, ProviderDeps(http=http, environ=environ))
            built.append(registry)
            return registry

        yield build
        for registry in built:
            await registry.aclose()


@pytest.mark.parametrize(("provider_id", "env_var"), SPEC_NAMES)
async def test_a_specs_name_for_the_key_configures_and_calls_the_provider(
    provider_id: str, env_var: str, registries: Registries
) -> None:
    registry = registries({env_var: KEY})
    assert registry.is_configured(provider_id)
    setup = {found.id: found for found in registry.setup()}
    assert setup[provider_id].key_env == env_var
    provider = registry.get(provider_id)
    state, _ = await settle(provider, await provider.submit(still_request()))
    assert isinstance(state, Succeeded), state


async def test_a_missing_key_names_every_variable_it_may_be_in(registries: Registries) -> None:
    with pytest.raises(MissingCredential) as caught:
        await registries({}).get("runway").submit(still_request())
    assert "RUNWAYML_API_SECRET (or RUNWAY_API_KEY)" in caught.value.message
    assert caught.value.details["alternatives"] == ["RUNWAY_API_KEY"]


def test_videos_go_to_runway_when_its_key_has_the_specs_name(registries: Registries) -> None:
    registry = registries({"RUNWAY_API_KEY": KEY, "LEONARDO_API_KEY": KEY})
    choice = choose_providers(registry, TransformSettings(), "VIDEO_GENERATION", None)
    assert choice.providers == ("runway", "leonardo")


def test_the_vendors_name_wins_and_a_different_key_under_the_other_is_reported(
    registries: Registries,
) -> None:
    registry = registries({"RUNWAYML_API_SECRET": OTHER_KEY, "RUNWAY_API_KEY": KEY})
    runway = {found.id: found for found in registry.setup()}["runway"]
    assert runway.key_env == "RUNWAYML_API_SECRET"
    assert runway.ignored == ("RUNWAY_API_KEY",)
    same = registries({"RUNWAYML_API_SECRET": KEY, "RUNWAY_API_KEY": KEY})
    assert {found.id: found for found in same.setup()}["runway"].ignored == ()


def test_start_up_says_which_providers_are_configured_by_name_only(
    registries: Registries,
    captured_logs: CapturedLogs,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = registries({"RUNWAY_API_KEY": KEY, "FAL_KEY": OTHER_KEY, "GOOGLE_API_KEY": ""})
    announce_providers(registry)
    logged = captured_logs.text()
    printed = capsys.readouterr().out
    assert logged.count("providers.configured") == 1
    for text in (logged, printed):
        assert "runway (RUNWAY_API_KEY)" in text
        assert "fal (FAL_KEY)" in text
        assert KEY not in text
        assert OTHER_KEY not in text
    # (the Character Library is configured by its address in settings, ComfyUI by its
    # workflows; diffusers names no model here)
    assert printed.rstrip().endswith("; not configured: diffusers, google, leonardo, replicate")
