"""What goes wrong behind a trigger ends somewhere: a clip whose run cannot be started ends
failed and announced (it never waits forever as ``generating``), and every 5xx answer is in the
server's log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import structlog

from cutscenes.cutscenes_support import CAMPAIGN, SESSION, Api, read_events, wait_for_cutscene
from fixtures.engine import engine_settings, open_engine_harness
from fixtures.server import serve_app
from reelforge.api.app import create_app
from reelforge.engine.busy import EngineBusy
from reelforge.features.cutscenes.finishing import stage_run_id
from reelforge.features.cutscenes.repository import CutsceneRepository
from reelforge.services import open_services

LOCAL_ONLY: dict[str, Any] = {
    "image_provider": None,
    "video_provider": None,
    "budget_per_session_usd": None,
}


async def test_a_clip_whose_run_cannot_start_ends_failed_and_announced(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path / "data", "http://127.0.0.1:9")
    async with (
        open_engine_harness(settings) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=30, trust_env=False) as http,
    ):
        api = Api(harness, http)
        await api.enable(clip_duration_s=1, **LOCAL_ONLY)
        runtime = harness.services.engine.engine
        start_run = runtime.start_run
        refused: list[str] = []

        # The engine's database stays busy past the wait when the clip's run is started (the
        # still's finish starts it): the run is recorded failed and will never run.
        async def busy_for_clips(run_id: str, jobs: list[dict[str, Any]]) -> None:
            if jobs[0]["spec"]["label"] == "clip":
                refused.append(run_id)
                raise EngineBusy("The job engine's database stayed busy.")
            await start_run(run_id, jobs)

        setattr(runtime, "start_run", busy_for_clips)  # noqa: B010
        answer = await api.trigger()
        assert answer.status_code == 202, answer.text
        cutscene_id = answer.json()["cutscene_id"]
        await wait_for_cutscene(api, cutscene_id, timeout_s=60)

        video_id = answer.json()["video_asset_id"]
        events = await read_events(
            api, lambda seen: any(e.kind == "failed" for e in seen), timeout_s=30
        )
        repository = CutsceneRepository.on(harness.services.catalog)
        media = {m.asset_type: m for m in await repository.media_of(cutscene_id)}

    assert refused == [stage_run_id(cutscene_id, "clip")]
    assert media["image"].status == "complete"
    assert (media["video"].status, media["video"].error_code) == ("failed", "ENGINE_BUSY")
    failed = [e for e in events if e.kind == "failed"]
    assert [e.data["media_id"] for e in failed] == [video_id]
    assert failed[0].data["error"]["code"] == "ENGINE_BUSY"


async def test_every_5xx_answer_is_logged(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path / "data", "http://127.0.0.1:9")
    # No engine in this process (as the CLI beside a server): a trigger cannot start anything.
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as http,
    ):
        put = await http.put(
            "/api/media/settings",
            params={"campaign_id": CAMPAIGN},
            json={"enabled": True, **LOCAL_ONLY},
        )
        assert put.status_code == 200, put.text
        body = {
            "campaign_id": CAMPAIGN,
            "session_id": SESSION,
            "cutscene_type": "plot_twist",
            "image_prompt": "The letter was in her own hand",
        }
        with structlog.testing.capture_logs() as logs:
            answer = await http.post("/api/media/cutscenes", json=body)

    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "CONFIGURATION_ERROR"
    logged = [entry for entry in logs if entry["event"] == "api.server_error"]
    assert len(logged) == 1
    assert logged[0]["log_level"] == "error"
    assert (logged[0]["path"], logged[0]["status"], logged[0]["code"]) == (
        "/api/media/cutscenes",
        500,
        "CONFIGURATION_ERROR",
    )
