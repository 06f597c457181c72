"""``kill -9`` while ComfyUI has queued a prompt whose answer never reached us (the submit
window): the restarted worker finds the prompt in ComfyUI's queue or history by its fingerprint
and adopts it, so no prompt is sent twice, and the run succeeds."""

from __future__ import annotations

from pathlib import Path

from fixtures import emulator as emulator_fixtures
from fixtures.comfyui import comfyui_environment
from fixtures.emulator import EmulatorControl
from fixtures.engine import engine_env, engine_settings, processes, wait_for_file, wait_for_run_end
from reelforge.catalog import Catalog, upgrade_database
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

RUNNER = Path(__file__).resolve().parents[1] / "engine" / "submit_runner.py"


async def test_kill_9_in_the_submit_window_sends_no_prompt_twice(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    engine = {
        "executor_id": "comfy-host",
        "orphan_wait_s": 1.0,
        "queues": {"comfyui": {"concurrency": 1}},
    }
    settings = engine_settings(tmp_path / "data", emulator_server.base_url, engine=engine)
    await upgrade_database(settings.effective_database_url)
    env = engine_env(settings) | comfyui_environment(emulator_server.base_url)
    marker, held = tmp_path / "run_id", tmp_path / "held"
    with processes(tmp_path, env) as group:
        first = group.start(
            "first",
            str(RUNNER),
            "--provider",
            "comfyui",
            "--start",
            "3",
            "--marker",
            str(marker),
            "--held",
            str(held),
        )
        run_id = await wait_for_file(marker)
        held_id = await wait_for_file(held)
        group.kill(first)
        group.worker("second")
        async with Catalog.from_url(settings.effective_database_url) as catalog:
            status = await wait_for_run_end(catalog, run_id, timeout_s=90)
            jobs = await catalog.jobs.list_for_run(run_id)
        assert status == "succeeded", group.log("second")
    ledger = await emulator.ledger("comfyui")
    prompts = [c["request_id"] for c in ledger["calls"] if c["operation"] == "submit"]
    assert len(prompts) == 3  # one prompt per job: the held one was adopted, not sent again
    assert held_id in {str(job.provider_request_id) for job in jobs}
    assert all(job.status == "succeeded" and len(job.asset_ids) == 1 for job in jobs)
