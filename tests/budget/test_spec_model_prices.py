"""Every model the specs and the provider reference name has a built-in price (issue #20: the
cutscenes spec's own ``veo-3.0-generate-preview`` had none, so every clip was skipped under a cap).

The model ids the shared texts name (the five specs and ``reference/providers.md``) are kept in
``spec_models.json`` beside this file, so the price check needs nothing outside the repository.
Where the shared texts are at hand (``RF_TEST_SHARED_DIR``, else ``shared/`` beside the project's
checkout), they are scanned again and must name exactly that list. A named model without a price,
or one listed in :data:`UNPRICED` that has since got a price, fails the test.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from reelforge.budget.prices import PriceTable
from reelforge.providers.base import Capability, PriceQuery, ProviderDeps
from reelforge.providers.registry import PROVIDER_CLASSES, ProviderRegistry
from reelforge.settings import Settings

SHARED_ENV = "RF_TEST_SHARED_DIR"
_ROOT = Path(__file__).resolve().parents[2]

#: Named, and deliberately without a built-in price, with the reason.
UNPRICED: dict[tuple[str, str], str] = {
    ("replicate", "replicate/hello-world"): "the reference's sample prediction, no image model",
    ("runway", "gen4"): "Runway's web-app model; the API's ids are gen4_turbo and gen4.5",
    **{
        ("runway", model): "listed as 'others in the SDK'; Runway's rate is not on record"
        for model in ("seedance2", "seedance2_fast", "seedance2_mini", "happyhorse_1_0")
    },
    ("runway", "gemini_omni_flash"): "listed as 'others in the SDK'; no rate on record",
    **{
        ("leonardo", model): "Leonardo bills in API credits with no USD rate (providers.md §5/§6); "
        "priced in providers.leonardo.prices"
        for model in ("MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5")
    },
}

# Which provider a model id belongs to, by its shape.
_CLAIMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("fal", re.compile(r"^fal-ai/[\w.\-/]+$")),
    ("google", re.compile(r"^(gemini|imagen|veo)-\d[\w.\-]*$")),
    (
        "runway",
        re.compile(r"^(gen\d[\w.]*|veo\d[\w.]*|seedance\d\w*|happyhorse_\w+|gemini_omni_\w+)$"),
    ),
    ("leonardo", re.compile(r"^(MOTION2\w*|VEO3\w*|KLING2_\d)$")),
    # owner/name; not a file path, a media type or the reference's placeholders.
    (
        "replicate",
        re.compile(
            r"^(?!(owner|models|image|video|audio)/)[a-z][a-z0-9-]*/[a-z0-9][a-z0-9.\-]*"
            r"(?<!\.py)(?<!\.yml)$"
        ),
    ),
)
_VIDEO = re.compile(r"veo|kling|video|gen4_turbo|gen4\.5|seedance|happyhorse|MOTION|omni", re.I)
_TICKED = re.compile(r"`([^`\n]+)`")
_MODEL_FIELD = re.compile(r'"(?:model|image_model|video_model)"\??:\s*"([^"]+)"')
_LEONARDO_MODELS = re.compile(r'"((?:MOTION2|VEO3)[A-Z]*|KLING2_\d)"')


def shared_dir() -> Path:
    """``RF_TEST_SHARED_DIR``, else ``shared/`` beside the checkout (or its main worktree)."""
    named = os.environ.get(SHARED_ENV)
    roots = [_ROOT]
    common = subprocess.run(
        ["git", "-C", str(_ROOT), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if common.returncode == 0:
        roots.append(Path(common.stdout.strip()).parent)
    candidates = [Path(named)] if named else [root.parent / "shared" for root in roots]
    for candidate in candidates:
        if (candidate / "spec").is_dir() and (candidate / "reference").is_dir():
            return candidate
    if named:
        pytest.fail(f"{SHARED_ENV}={named} holds no spec/ and reference/.", pytrace=False)
    pytest.skip(f"the shared specs are not beside this checkout (set {SHARED_ENV} to scan them)")


def _expanded(token: str) -> Iterator[str]:
    """``a/{b,c}/d`` and ``a[/b][/c]`` as every id they stand for."""
    parts = re.split(r"(\{[^}]*\}|\[[^\]]*\])", token)
    choices = [
        part[1:-1].split(",")
        if part.startswith("{")
        else ["", part[1:-1]]
        if part.startswith("[")
        else [part]
        for part in parts
    ]
    for combination in itertools.product(*choices):
        yield "".join(combination)


def named_models(texts: list[str]) -> set[tuple[str, str]]:
    """Each (provider, model id) the texts name: code spans and JSON ``model`` fields; family
    wildcards (``veo3*``) and elided paths (``.../x``) stand for no one model."""
    tokens: set[str] = set()
    for text in texts:
        found = _TICKED.findall(text) + _MODEL_FIELD.findall(text)
        found += _LEONARDO_MODELS.findall(text)
        for token in found:
            if "*" in token or token.startswith(".") or " " in token:
                continue
            tokens.update(_expanded(token))
    claimed: set[tuple[str, str]] = set()
    for token in tokens:
        owner = _owner(token)
        if owner is not None:
            claimed.add((owner, PROVIDER_CLASSES[owner].resolve_model(token) or token))
    return claimed


def _owner(token: str) -> str | None:
    for provider_id, pattern in _CLAIMS:
        if pattern.match(token):
            return provider_id
    # A spec's short name (keyframes' "flux-pro") is some adapter's model alias.
    return next((pid for pid, cls in PROVIDER_CLASSES.items() if token in cls.model_aliases), None)


_KEPT = Path(__file__).with_name("spec_models.json")


@pytest.fixture(scope="module")
def spec_models() -> set[tuple[str, str]]:
    """The models the shared texts name, as kept in the repository."""
    return {(provider, model) for provider, model in json.loads(_KEPT.read_text())}


def test_the_kept_list_is_what_the_shared_texts_name(spec_models: set[tuple[str, str]]) -> None:
    shared = shared_dir()
    paths = [*sorted((shared / "spec").glob("*.md")), shared / "reference" / "providers.md"]
    scanned = named_models([path.read_text(encoding="utf-8") for path in paths])
    assert scanned == spec_models, {"new": scanned - spec_models, "gone": spec_models - scanned}


def test_the_scan_finds_what_the_specs_name(spec_models: set[tuple[str, str]]) -> None:
    # The cutscenes spec's settings, keyframes' alias, motion segments' clip model, and the
    # reference's expanded families.
    for expected in (
        ("google", "veo-3.0-generate-preview"),
        ("google", "imagen-3.0-generate-002"),
        ("fal", "fal-ai/flux-pro/v1.1"),
        ("fal", "fal-ai/veo3/fast/image-to-video"),
        ("fal", "fal-ai/veo3.1/fast/image-to-video"),
        ("fal", "fal-ai/kling-video/v2.1/master/image-to-video"),
        ("replicate", "black-forest-labs/flux-dev"),
        ("runway", "veo3.1_fast"),
        ("leonardo", "MOTION2"),
    ):
        assert expected in spec_models
    assert not {model for model in spec_models if "{" in model[1] or "[" in model[1]}


async def test_every_model_the_specs_name_has_a_price(
    spec_models: set[tuple[str, str]], tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    async with httpx.AsyncClient() as http:
        registry = ProviderRegistry(settings, ProviderDeps(http=http, environ={}))
        prices = PriceTable(registry, settings.budget)
        unpriced: dict[tuple[str, str], str] = {}
        for provider_id, model in sorted(spec_models):
            capability = Capability.IMAGE_TO_VIDEO if _VIDEO.search(model) else None
            query = PriceQuery(
                capability=capability or Capability.TEXT_TO_IMAGE,
                model=model,
                duration_s=6.0 if capability else None,
                image_count=1 if capability else 0,
            )
            estimate = prices.estimate(provider_id, query)
            if estimate.amount_usd is None or estimate.amount_usd <= Decimal(0):
                unpriced[provider_id, model] = estimate.basis
        await registry.aclose()
    missing = {key: basis for key, basis in unpriced.items() if key not in UNPRICED}
    assert not missing, missing
    # An exception that now has a price is stale: drop it from UNPRICED.
    stale = {key for key in UNPRICED if key in spec_models and key not in unpriced}
    assert not stale, stale
    assert set(UNPRICED) <= spec_models
