"""Every adapter at its default model, for every capability it declares, through the engine.

No model is named: each job gets the adapter's default, is priced by the budget (the jobs run
under a capped scope, so a default without a price, or one the pricing step cannot quote, fails
here), is submitted to the emulator, and its output is decoded back from the store. Issue #20:
pricing a Veo clip once built a request the Google adapter refused, so no default clip ever
reached Veo.
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from fixtures import database as database_fixtures
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import EngineHarness, engine_settings, open_engine_harness
from fixtures.tiny_diffusion import require_diffusers, save_tiny_pipeline
from providers.contract.contract_cases import PROVIDER_CASES
from reelforge.budget.scopes import BudgetScope
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import JobSpec, RetryPolicy, WaitPolicy
from reelforge.providers.base import Capability
from reelforge.providers.registry import PROVIDER_CLASSES

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator
database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url

SCOPE = BudgetScope("project", "defaults")
CAP = Decimal("100")
WAIT = WaitPolicy(poll_interval_s=0.1)
_CASES = {case.id: case for case in PROVIDER_CASES}
OFFLINE_PROVIDERS = {"local", "diffusers"}  # they run on this machine: no emulator
#: Defaults known not to work through the engine, with the error they fail with. Fixing one
#: fails this suite until its entry is removed.
KNOWN_BROKEN: dict[tuple[str, Capability], str] = {}


def test_the_suite_covers_every_registered_provider() -> None:
    # The local studio and diffusers need no emulator; every hosted provider has a contract case.
    assert set(PROVIDER_CLASSES) == {*OFFLINE_PROVIDERS, *_CASES}


@pytest.mark.parametrize("provider_id", sorted(PROVIDER_CLASSES))
async def test_every_default_model_makes_media_through_the_engine(
    provider_id: str,
    database_url: str,
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
) -> None:
    await emulator.configure(latency_s=0.05, queue_s=0.02)
    settings, environ = _provider_setup(provider_id, tmp_path, emulator_server, database_url)
    capabilities = sorted(PROVIDER_CLASSES[provider_id].capabilities)
    async with open_engine_harness(settings, webhooks=False, environ=environ) as harness:
        await harness.services.budget.set_cap(SCOPE, CAP, "total")
        source = await _source_image(harness)
        options = await _required_options(harness, provider_id)
        specs = [
            _spec(provider_id, capability, source, options.get(capability, {}))
            for capability in capabilities
        ]
        run_id = await harness.engine.start_run("defaults", specs, wait=WAIT)
        view = await harness.engine.wait_for_run(run_id, 90)
        outcomes = {job.label: (job.status, job.error and job.error["code"]) for job in view.jobs}
        expected = {
            c.value: ("failed", KNOWN_BROKEN[provider_id, c])
            if (provider_id, c) in KNOWN_BROKEN
            else ("succeeded", None)
            for c in capabilities
        }
        assert outcomes == expected, [job.error for job in view.jobs]

        adapter = harness.services.providers.get(provider_id)
        made = [job for job in view.jobs if job.status == "succeeded"]
        for job in made:
            capability = Capability(job.capability)
            assert job.model == adapter.default_model(capability)
            # Priced before submit, charged on success (the local studio is free).
            assert job.cost_usd is not None
            assert job.asset_ids
            for asset_id in job.asset_ids:
                await _decodes(harness, asset_id, video=capability.makes_video)
        balance = await harness.services.budget.balance(SCOPE)
        assert balance.reserved_usd == Decimal(0)
        assert balance.spent_usd == sum(Decimal(str(job.cost_usd)) for job in made)


def _provider_setup(
    provider_id: str, tmp_path: Path, emulator_server: EmulatorServer, database_url: str
) -> tuple[Any, dict[str, str]]:
    # On PostgreSQL the API runs work only when told to (else workers do).
    settings = engine_settings(
        tmp_path / "data",
        emulator_server.base_url,
        engine={"api_executes": True},
        database_url=database_url,
    )
    if provider_id == "diffusers":  # runs here, on a tiny random-weight pipeline
        require_diffusers(module_level=False)
        model = save_tiny_pipeline(tmp_path / "models")
        section: dict[str, object] = {"models": {"tiny": str(model)}, "device": "cpu"}
        section |= {"text_to_image_model": "tiny", "default_steps": 2}
        providers = {**settings.providers, "diffusers": section}
        return settings.model_copy(update={"providers": providers}), {}
    case = _CASES.get(provider_id)
    if case is None:
        return settings, {}
    providers = {**settings.providers, provider_id: case.settings(emulator_server.base_url)}
    environ = {case.key_env: case.dummy_key} if case.key_env else {}
    return settings.model_copy(update={"providers": providers}), environ


async def _required_options(
    harness: EngineHarness, provider_id: str
) -> dict[Capability, dict[str, Any]]:
    """Options a capability's default cannot do without, which no model can name: the Character
    Library's image→image (the 360° set) is for a character the library knows, so one is made
    first, through the engine, by a master reference at text→image's default."""
    if provider_id != "character_library":
        return {}
    # Outside the budget scope, whose spending the test checks against the run's jobs.
    made_first = _spec(provider_id, Capability.TEXT_TO_IMAGE, source="", options={})
    reference = made_first.model_copy(update={"budget_scopes": ()})
    run_id = await harness.engine.start_run("library-character", [reference], wait=WAIT)
    [job] = (await harness.engine.wait_for_run(run_id, 90)).jobs
    assert job.status == "succeeded", job.error
    made = await harness.services.catalog.jobs.get(job.id)
    assert made.provider_metadata is not None
    library_db_id = made.provider_metadata["extra"]["library_db_id"]
    return {Capability.IMAGE_TO_IMAGE: {"library_db_id": library_db_id}}


async def _source_image(harness: EngineHarness) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (512, 288), (40, 90, 160)).save(buffer, format="PNG")
    asset = await harness.services.assets.ingest_bytes(buffer.getvalue(), source="upload")
    return asset.id


def _spec(
    provider_id: str, capability: Capability, source: str, options: dict[str, Any]
) -> JobSpec:
    return JobSpec(
        provider=provider_id,
        capability=capability,
        prompt="A lighthouse on a cliff at dawn, the beam sweeping the sea",
        # diffusers runs a real (tiny) diffusion on this machine's CPU: kept small
        width=128 if provider_id == "diffusers" else 512,
        height=72 if provider_id == "diffusers" else 288,
        duration_s=4.0 if capability.makes_video else None,
        input_asset_ids=(source,) if capability.needs_image else (),
        options=options,
        label=capability.value,
        budget_scopes=(SCOPE.key,),
        retry=RetryPolicy(max_retries=0),
    )


async def _decodes(harness: EngineHarness, asset_id: str, *, video: bool) -> None:
    asset = await harness.services.assets.get(asset_id)
    data = await harness.services.store.get_bytes(asset.key)
    if not video:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.width > 0
            assert image.height > 0
        return
    with av.open(io.BytesIO(data), mode="r") as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 0
