"""Every setting that concerns providers is checked at start-up: a bad entry for one provider
stops the process there, naming the setting, instead of failing that provider later (its calls,
its webhooks, and the whole price list)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fixtures.services import local_settings
from reelforge.budget import config as budget_config
from reelforge.errors import ConfigurationError
from reelforge.providers import pricing
from reelforge.services import build_services, open_services
from reelforge.settings import Settings


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        (
            {"providers": {"leonardo": {"prices": {"video": {"unit": "second", "usd": "-0.5"}}}}},
            "providers.leonardo.prices.video.usd",
        ),
        (
            {"providers": {"fal": {"prices": {"acme/clip": {"unit": "frame", "usd": "1"}}}}},
            "providers.fal.prices.acme/clip.unit",
        ),
        ({"providers": {"runway": {"credit_usd": "2000000"}}}, "providers.runway.credit_usd"),
        ({"providers": {"local": {"max_widht": 10}}}, "providers.local.max_widht"),
    ],
    ids=["negative-price", "unknown-unit", "price-past-the-catalog", "misspelt-field"],
)
async def test_start_up_refuses_a_bad_provider_entry_naming_it(
    tmp_path: Path, overrides: dict[str, Any], setting: str
) -> None:
    settings = local_settings(tmp_path, **overrides)
    with pytest.raises(ConfigurationError) as caught:
        async with open_services(settings, environ={}):
            pass
    assert setting in caught.value.message
    assert [found["setting"] for found in caught.value.details["settings"]] == [setting]


def test_every_bad_entry_is_named_at_once(tmp_path: Path) -> None:
    settings = local_settings(
        tmp_path,
        providers={
            "google": {"prices": {"veo": {"unit": "second", "usd": "-1"}}},
            "replicate": {"sync_wait_s": "soon"},
        },
    )
    with pytest.raises(ConfigurationError) as caught:
        build_services(settings, environ={})
    named = [found["setting"] for found in caught.value.details["settings"]]
    assert sorted(named) == ["providers.google.prices.veo.usd", "providers.replicate.sync_wait_s"]


@pytest.mark.parametrize(
    ("overrides", "setting", "problem"),
    [
        (
            {"budget": {"prices": {"runwayml": {"*": {"per_second_usd": "0.05"}}}}},
            "budget.prices.runwayml",
            "provider 'runway': use its id",
        ),
        (
            {"transform": {"video_providers": ["runwya", "leonardo"]}},
            "transform.video_providers",
            "'runwya' is not a known provider",
        ),
        (
            {"engine": {"queues": {"midjourney": {"concurrency": 2}}}},
            "engine.queues.midjourney",
            "not a known provider",
        ),
        ({"characters": {"provider": "dalle"}}, "characters.provider", "not a known provider"),
    ],
    ids=["budget-price-by-alias", "transform-list", "engine-queue", "characters"],
)
def test_settings_naming_an_unknown_provider_are_refused(
    tmp_path: Path, overrides: dict[str, Any], setting: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_services(local_settings(tmp_path, **overrides), environ={})
    assert f"{setting} (" in caught.value.message
    assert problem in caught.value.message


def test_a_price_override_past_what_the_catalog_records_is_refused_on_load(
    tmp_path: Path,
) -> None:
    (tmp_path / "reelforge.toml").write_text(
        '[budget.prices.fal."fal-ai/veo3.1"]\nper_second_usd = "1000000"\n'
    )
    with pytest.raises(ValidationError, match="per_second_usd"):
        Settings()
    # One bound, stated twice: by the providers' prices and by the budget's settings section.
    assert budget_config.MAX_PRICE_USD == pricing.MAX_PRICE_USD
