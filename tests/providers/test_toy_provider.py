"""A provider from the test tree, registered with one registry line and no other source edit:
names and aliases, prices, error codes, webhooks, and key frames over REST with the engine
running (a dry run and a real run), segments planning, and the engine learning its model."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from fixtures.engine import FAST_ENGINE, wait_for_run_end
from fixtures.server import serve_app
from keyframes.keyframes_support import decode_image, storyboard
from providers.toy_provider import CLIP_MODEL, FAILURES, ToyError, ToyProvider
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.engine.specs import JobSpec, RetryPolicy
from reelforge.errors import InvalidInput, ProviderUnavailable, Unauthorized
from reelforge.providers.base import Capability, UnknownProvider, UnsupportedCapability
from reelforge.providers.http import VendorFailure
from reelforge.providers.registry import PROVIDER_CLASSES, ProviderClasses
from reelforge.services import Services, build_services, open_engine
from reelforge.settings import Settings
from segments.segments_support import request_body

# The one registry line.
TOY_CLASSES: ProviderClasses = {**PROVIDER_CLASSES, ToyProvider.id: ToyProvider}


def toy_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        auth={"enabled": False},
        ingest={"allowed_hosts": ["127.0.0.1"]},
        engine=FAST_ENGINE,
        keyframes={"min_frames": 1, "retry_backoff_s": 0.05, "poll_interval_s": 0.1},
        providers={"toy": {"usd_per_image": "0.02"}},
    )


@asynccontextmanager
async def toy_services(tmp_path: Path, *, engine: bool) -> AsyncIterator[tuple[Services, str]]:
    """Services over the toy registry, the API on loopback, and the engine when asked."""
    settings = toy_settings(tmp_path / "data")
    await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ={}, provider_classes=TOY_CLASSES)
    try:
        async with serve_app(create_app(services)) as base_url:
            if engine:
                name = f"test-{uuid.uuid4().hex[:12]}"
                await open_engine(services, "api", instance_name=name)
            yield services, base_url
    finally:
        await services.aclose()


async def test_its_names_prices_and_errors_come_from_its_class(tmp_path: Path) -> None:
    async with toy_services(tmp_path, engine=False) as (services, base_url):
        registry = services.providers
        for name in ("toy", "TOY", " toybox ", "Toy_AI", "toy.ai", "toy-ai"):
            assert registry.resolve(name, Capability.TEXT_TO_IMAGE) is ToyProvider
        with pytest.raises(UnknownProvider) as unknown:
            registry.resolve("toys")
        assert "toy" in unknown.value.details["known"]
        with pytest.raises(UnsupportedCapability) as unsupported:
            registry.resolve("toybox", Capability.TEXT_TO_VIDEO)
        assert unsupported.value.code == InvalidInput.code
        assert unsupported.value.details["provider"] == "toy"
        assert ToyProvider.resolve_model("FLAT") == "toy-flat-2"

        assert registry.generic_code(ToyError.code) == "provider_error"
        assert registry.generic_code("provider_timeout") == "provider_timeout"
        error = ToyProvider.error("broken")
        assert (type(error), error.code, error.provider) == (ToyError, "TOY_ERROR", "toy")

        adapter = registry.get("toy")
        with pytest.raises(Unauthorized) as refused:
            adapter.verify_webhook({}, b"{}")
        assert refused.value.details == {"provider": "toy", "reason": "no_verifier"}

        async with httpx.AsyncClient(base_url=base_url) as http:
            prices = (await http.get("/v1/prices", params={"provider": "toy"})).json()["prices"]
        assert [(p["model"], p["usd"], p["as_of"]) for p in prices] == [
            ("toy-still-1", "0.02", "2026-01-02")
        ]


async def test_key_frames_over_rest_dry_run_and_real_run(tmp_path: Path) -> None:
    async with toy_services(tmp_path, engine=True) as (services, base_url):
        board = storyboard(2, provider="toybox", seed=7)
        board["render_settings"]["model"] = "flat"
        board["storyboard_frames"][1]["description"] = "Shot 1: the door stays shut [refuse]."
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            dry = (await http.post("/v1/keyframes", json={**board, "dry_run": True})).json()
            assert dry["render_plan"]["provider"] == "toy"
            assert [job["model"] for job in dry["per_job"]] == ["toy-flat-2"] * 2
            assert dry["total_usd"] == "0.04"

            response = await http.post("/v1/keyframes", json=board)
            assert response.status_code == 200, response.text
            body = response.json()
            [frame] = body["generated_frames"]
            assert frame["provider_metadata"]["provider"] == "toy"
            assert frame["provider_metadata"]["model"] == "toy-flat-2"
            image = await decode_image(http, base_url, services.settings, frame["image_url"])
            assert image.size == (512, 288)
            failed_id = board["storyboard_frames"][1]["frame_id"]
            assert body["failed_frames"] == [{"frame_id": failed_id, "error": "provider_error"}]
            # It sends no webhooks: the route refuses its callbacks before any verifying.
            webhook = await http.post("/webhooks/toy", content=b"{}")
            assert webhook.status_code == 404

        jobs = await services.catalog.jobs.list_for_run(body["run_id"])
        assert sorted(str(job.error_code) for job in jobs) == ["None", "TOY_ERROR"]
        still = next(job for job in jobs if job.status == "succeeded")

        # The engine learns a job's model from the adapter, without pricing it (toy clips
        # have no price) and without its input images.
        engine = services.engine
        assert engine is not None
        clip = JobSpec(
            provider="toy",
            capability=Capability.IMAGE_TO_VIDEO,
            prompt="the frame, moving",
            duration_s=4.0,
            input_asset_ids=(still.asset_ids[0],),
            retry=RetryPolicy(max_retries=0),
        )
        run_id = await engine.start_run("toy-clips", [clip])
        [job] = await services.catalog.jobs.list_for_run(run_id)
        assert job.model == CLIP_MODEL
        assert await wait_for_run_end(services.catalog, run_id) == "failed"
        with pytest.raises(InvalidInput, match="by id"):
            await engine.start_run("toy-clips", [clip.model_copy(update={"provider": "toybox"})])


async def test_segments_resolve_names_as_key_frames_do(tmp_path: Path) -> None:
    urls = [f"https://images.example/frame-{i}.png" for i in range(2)]
    async with (
        toy_services(tmp_path, engine=False) as (_, base_url),
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        plans = []
        for name in ("toybox", "Toy_AI"):
            body = request_body([(1, 1), (1, 2)], urls, provider=name, dry_run=True)
            response = await http.post("/v1/segments", json=body)
            assert response.status_code == 200, response.text
            plans.append(response.json())
        body = request_body([(1, 1), (1, 2)], urls, provider="toys", dry_run=True)
        unknown = await http.post("/v1/segments", json=body)
    for plan in plans:
        assert plan["provider"] == "toy"
        # Toy clips have no price: unpriced, yet named by the adapter's default model.
        assert {job["model"] for job in plan["per_job"]} == {CLIP_MODEL}
        assert plan["unpriced"]
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "INVALID_INPUT"


def test_the_toy_speaks_through_the_shared_failure_table() -> None:
    busy = FAILURES.error("submit", VendorFailure("Overloaded.", 503, retry_after=2.0))
    assert isinstance(busy, ProviderUnavailable)
    assert (busy.retryable, busy.retry_after, busy.provider) == (True, 2.0, "toy")
    assert busy.message == "Toy is unavailable (HTTP 503)."
    gone = FAILURES.error("status", VendorFailure("No such job.", 404))
    assert (type(gone), gone.retryable) == (ToyError, False)
