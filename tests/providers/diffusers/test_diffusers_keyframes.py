"""Key frames through the diffusers provider over REST, with the engine running: every frame of
a run is made in one pipeline call, stored, and decodes at the asked size; the run costs 0."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from fixtures.engine import FAST_ENGINE
from fixtures.server import serve_app
from fixtures.tiny_diffusion import require_diffusers, save_tiny_pipeline
from keyframes.keyframes_support import decode_image, storyboard
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.services import build_services, open_engine
from reelforge.settings import Settings

require_diffusers()
pytestmark = pytest.mark.diffusers


async def test_a_storyboard_renders_in_one_batch(tmp_path: Path) -> None:
    model = save_tiny_pipeline(tmp_path / "models")
    settings = Settings(
        data_dir=tmp_path / "data",
        auth={"enabled": False},
        engine=FAST_ENGINE,
        keyframes={"min_frames": 1, "retry_backoff_s": 0.05, "poll_interval_s": 0.1},
        providers={
            "diffusers": {
                "models": {"tiny": str(model)},
                "text_to_image_model": "tiny",
                "device": "cpu",
                "batch_size": 4,
                "batch_window_s": 0.5,
                "default_steps": 3,
            }
        },
    )
    await upgrade_database(settings.effective_database_url)
    services = build_services(settings, environ={})
    try:
        async with serve_app(create_app(services)) as base_url:
            await open_engine(services, "api", instance_name=f"test-{uuid.uuid4().hex[:12]}")
            board = storyboard(4, provider="diffusers", seed=11)
            board["render_settings"]["resolution"] = "128x72"
            async with httpx.AsyncClient(base_url=base_url, timeout=600) as http:
                dry = (await http.post("/v1/keyframes", json={**board, "dry_run": True})).json()
                assert dry["render_plan"]["provider"] == "diffusers"
                assert dry["total_usd"] == "0.00"
                response = await http.post("/v1/keyframes", json=board, params={"wait_s": 300})
                assert response.status_code == 200, response.text
                body = response.json()
                frames = body["generated_frames"]
                assert len(frames) == 4, body
                for frame in frames:
                    metadata = frame["provider_metadata"]
                    assert (metadata["provider"], metadata["model"]) == ("diffusers", "tiny")
                    assert metadata["steps"] == 3
                    image = await decode_image(http, base_url, settings, frame["image_url"])
                    assert image.size == (128, 72)
            jobs = await services.catalog.jobs.list_for_run(body["run_id"])
            assert {job.status for job in jobs} == {"succeeded"}
            recorded = [job.provider_metadata or {} for job in jobs]
            assert {m["extra"]["batch_size"] for m in recorded} == {4}
            assert len({m["extra"]["batch_id"] for m in recorded}) == 1  # one pipeline call
            assert all(job.cost_usd == 0 for job in jobs)
    finally:
        await services.aclose()
