"""A cutscene is two engine runs chained by the still's finish step, so it needs nobody to drive
it: ``kill -9`` between the still and the clip, and a restart finishes it with the still billed
once and one clip (the emulator's ledger); and a cutscene nobody reads or follows still ends,
its media recorded and announced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cutscenes.cutscenes_support import CAMPAIGN, SESSION, open_api
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    Processes,
    engine_env,
    engine_settings,
    processes,
    wait_for_file,
    wait_for_run_end,
    wait_until,
)
from reelforge.catalog import Catalog, upgrade_database
from reelforge.emulator import EmulatorServer
from reelforge.engine.faults import FAULT_MARKER_ENV, FAULT_POINT_ENV
from reelforge.errors import NotFound
from reelforge.features.cutscenes.finishing import stage_run_id
from reelforge.features.cutscenes.repository import CutsceneRepository

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

RUNNER = Path(__file__).resolve().parent / "cutscene_runner.py"
STILL_MODEL, CLIP_MODEL = "fal-ai/flux/dev", "fal-ai/veo3.1/image-to-video"


async def _billed_models(emulator: EmulatorControl) -> list[str]:
    return sorted(str(b["model"]) for b in (await emulator.ledger("fal"))["billed"])


@pytest.mark.parametrize(
    ("crash_at", "stage_at_kill"), [("still-finish", "still"), ("clip-started", "clip")]
)
async def test_killed_between_the_still_and_the_clip_a_restart_ends_it_ready_paying_once(
    tmp_path: Path,
    emulator_server: EmulatorServer,
    emulator: EmulatorControl,
    crash_at: str,
    stage_at_kill: str,
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    engine = {"executor_id": "cutscene-host"}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    marker = tmp_path / "answer.json"
    async with Catalog.from_url(settings.effective_database_url) as catalog:
        repository = CutsceneRepository.on(catalog)
        with processes(tmp_path, engine_env(settings)) as group:
            first = group.start(
                "first", str(RUNNER), "--marker", str(marker), "--crash-at", crash_at
            )
            answer: dict[str, Any] = json.loads(await wait_for_file(marker))
            cutscene_id = answer["cutscene_id"]
            await wait_until(lambda: first.poll() is not None, timeout_s=60)
            assert first.returncode == -9, group.log("first")

            # Dead between the two: the still is paid for, the cutscene is not done.
            stopped = await repository.get(cutscene_id)
            assert stopped.stage == stage_at_kill
            assert STILL_MODEL in await _billed_models(emulator)

            # No sweeper, no lease: a worker on the same data directory recovers the engine's
            # workflows, and the still's finish step, run again, carries the cutscene on.
            group.worker("second")
            clip_run_id = stage_run_id(cutscene_id, "clip")
            await wait_until(lambda: _exists(catalog, clip_run_id), timeout_s=60)
            assert await wait_for_run_end(catalog, clip_run_id) == "succeeded", group.log("second")
            await wait_until(lambda: _done(repository, cutscene_id), timeout_s=30)

            cutscene = await repository.get(cutscene_id)
            media = {m.asset_type: m for m in await repository.media_of(cutscene_id)}
            runs = await catalog.runs.list(feature="cutscenes", limit=10)
            events = await repository.events_after(CAMPAIGN, SESSION)

    assert (media["image"].status, media["video"].status) == ("complete", "complete")
    assert media["video"].run_id == cutscene.clip_run_id == clip_run_id
    # The still billed once, one clip: one submit each, whatever the finish ran twice.
    assert await _billed_models(emulator) == [STILL_MODEL, CLIP_MODEL]
    assert (await emulator.ledger("fal"))["providers"]["fal"]["calls"]["submit"] == 2
    still_run_id = stage_run_id(cutscene_id, "still")
    assert {run.id for run in runs} == {still_run_id, clip_run_id}
    for run in runs:
        assert run.status == "succeeded"
        assert run.response is not None
        assert run.response["cutscene_id"] == cutscene_id
    kinds = [(e.kind, e.payload["asset_type"]) for e in events]
    assert kinds.count(("ready", "image")) == kinds.count(("ready", "video")) == 1
    assert [e.kind for e in events].count("generating") == 2
    assert kinds[-1] == ("ready", "video")


@pytest.mark.parametrize("point", ["between_run_and_jobs", "before_enqueue"])
async def test_a_trigger_killed_while_starting_its_still_leaves_no_cutscene_behind(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl, point: str
) -> None:
    """The trigger dies while it starts the still's run (the run recorded, its jobs not; or
    both, its workflow not started): it never answered, and after a restart no cutscene waits
    for a still that nobody makes (the cutscene is recorded once its still's run is started)."""
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    engine = {"executor_id": "cutscene-host", "start_grace_s": 0.5}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    fault = tmp_path / "fault.json"
    armed = {FAULT_POINT_ENV: point, FAULT_MARKER_ENV: str(fault)}
    async with Catalog.from_url(settings.effective_database_url) as catalog:
        repository = CutsceneRepository.on(catalog)
        with processes(tmp_path, engine_env(settings)) as group:
            marker = tmp_path / "answer.json"
            first = group.start(
                "first", str(RUNNER), "--marker", str(marker), "--crash-at", "none", env=armed
            )
            stopped_at = json.loads(await wait_for_file(fault, timeout_s=60))
            Processes.kill(first)
            assert stopped_at["point"] == point
            assert not marker.exists()  # the trigger never answered

            group.worker("second")
            still_run_id = stopped_at["run_id"]
            # The restart drops the run without jobs, or starts the one without a workflow.
            await wait_until(lambda: _run_settled(catalog, still_run_id), timeout_s=90)
            # Whatever was recorded of the cutscene ends: no still waits for a run that is gone.
            await wait_until(lambda: _all_done(repository), timeout_s=60)
            media = await repository.list_media(CAMPAIGN, session_id=SESSION)

    assert all(m.status in ("complete", "failed") for m in media)


async def test_a_cutscene_started_through_the_run_face_killed_once_planned_ends_after_a_restart(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    """``POST /v1/runs`` plans a cutscene, then starts the planned run: a process that dies in
    between (the plan made, the face's start not) leaves no cutscene that nothing ends. Planning
    starts the still's run before it records the cutscene, as a trigger does, so a restart
    finishes it (it was found recorded ``pending`` and no run behind it, for good)."""
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    engine = {"executor_id": "cutscene-host", "start_grace_s": 0.5}
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    marker = tmp_path / "planned.json"
    async with Catalog.from_url(settings.effective_database_url) as catalog:
        repository = CutsceneRepository.on(catalog)
        with processes(tmp_path, engine_env(settings)) as group:
            first = group.start(
                "first", str(RUNNER), "--marker", str(marker), "--crash-at", "planned"
            )
            cutscene_id = json.loads(await wait_for_file(marker, timeout_s=60))["cutscene_id"]
            await wait_until(lambda: first.poll() is not None, timeout_s=60)
            assert first.returncode == -9, group.log("first")

            group.worker("second")
            # Recorded or not, no cutscene of the session waits for a run nobody starts.
            await wait_until(lambda: _all_done(repository), timeout_s=60)
            cutscenes = await repository.list_for_session(CAMPAIGN, SESSION)
            media = await repository.list_media(CAMPAIGN, session_id=SESSION)

    assert [c.id for c in cutscenes] == [cutscene_id]
    assert sorted((m.asset_type, m.status) for m in media) == [
        ("image", "complete"),
        ("video", "complete"),
    ]


async def _all_done(repository: CutsceneRepository) -> bool:
    cutscenes = await repository.list_for_session(CAMPAIGN, SESSION)
    return all(cutscene.stage == "done" for cutscene in cutscenes)


async def _run_settled(catalog: Catalog, run_id: str) -> bool:
    try:
        return (await catalog.runs.get(run_id)).status in ("succeeded", "failed", "partial")
    except NotFound:
        return True


async def test_a_cutscene_ends_while_nobody_reads_or_follows_it(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    async with open_api(tmp_path, emulator_server) as api:
        await api.enable()
        triggered = await api.trigger()
        assert triggered.status_code == 202, triggered.text
        # The generic run face starts one too: its run is the still's, its id chosen ahead.
        generic = await api.http.post(
            "/v1/runs",
            json={
                "feature": "cutscenes",
                "input": {
                    "campaign_id": CAMPAIGN,
                    "session_id": SESSION,
                    "turn_number": 13,
                    "cutscene_type": "plot_twist",
                    "image_prompt": "The letter was in her own hand",
                },
            },
        )
        assert generic.status_code == 202, generic.text
        catalog = api.harness.services.catalog
        still_run = await catalog.runs.get(generic.json()["run_id"])
        cutscene_ids = [triggered.json()["cutscene_id"], still_run.input["cutscene_id"]]
        assert still_run.id == stage_run_id(cutscene_ids[1], "still")

        # Nobody follows the stream or reads a record: the runs' own finish steps do it all.
        for cutscene_id in cutscene_ids:
            still = await wait_for_run_end(catalog, stage_run_id(cutscene_id, "still"))
            clip = await wait_for_run_end(catalog, stage_run_id(cutscene_id, "clip"))
            assert (still, clip) == ("succeeded", "succeeded")

        repository = CutsceneRepository.on(catalog)
        for cutscene_id in cutscene_ids:
            assert (await repository.get(cutscene_id)).stage == "done"
            media = await repository.media_of(cutscene_id)
            assert sorted((m.asset_type, m.status) for m in media) == [
                ("image", "complete"),
                ("video", "complete"),
            ]
            response = (await catalog.runs.get(stage_run_id(cutscene_id, "clip"))).response
            assert response is not None
            assert (response["stage"], response["step"]) == ("done", "clip")
        events = await repository.events_after(CAMPAIGN, SESSION)
        ready = [e for e in events if e.kind == "ready"]
        assert sorted(e.cutscene_id for e in ready) == sorted(cutscene_ids * 2)
        assert await _billed_models(emulator) == [STILL_MODEL] * 2 + [CLIP_MODEL] * 2


async def _exists(catalog: Catalog, run_id: str) -> bool:
    return any(run.id == run_id for run in await catalog.runs.list(feature="cutscenes"))


async def _done(repository: CutsceneRepository, cutscene_id: str) -> bool:
    return (await repository.get(cutscene_id)).stage == "done"
