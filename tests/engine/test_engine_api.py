"""The engine's faces: ``/v1/runs``, ``/v1/jobs``, ``/webhooks/{provider}`` and
``reelforge jobs``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from typer.testing import CliRunner

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from fixtures.engine import (
    FAL_ENV,
    EngineHarness,
    engine_settings,
    fal_still,
    open_engine_harness,
    wait_until,
)
from reelforge.cli.app import app as cli_app
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import WaitPolicy
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator
pytestmark = pytest.mark.usefixtures("restored_logging")

FAST = WaitPolicy(poll_interval_s=0.1)


async def _finished_run(harness: EngineHarness, count: int = 2) -> str:
    run_id = await harness.engine.start_run(
        "test", [fal_still(f"a{i}") for i in range(count)], wait=FAST
    )
    assert (await harness.engine.wait_for_run(run_id, 15)).done
    return run_id


async def test_runs_and_jobs_over_http(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with (
        open_engine_harness(settings) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=20) as http,
    ):
        run_id = await harness.engine.start_run("test", [fal_still("h")], wait=FAST)
        run = (await http.get(f"/v1/runs/{run_id}", params={"wait_s": 15})).json()
        assert run["done"] is True
        assert run["status"] == "succeeded"
        job_id = run["jobs"][0]["id"]
        job = (await http.get(f"/v1/jobs/{job_id}")).json()
        assert job["label"] == "h"
        assert len(job["asset_ids"]) == 1
        assert [e["status"] for e in job["history"] if e["kind"] == "status"] == [
            "queued",
            "running",
            "succeeded",
        ]
        events = (await http.get(f"/v1/runs/{run_id}/events", params={"after": 0})).json()
        kinds = [e["kind"] for e in events["events"]]
        assert kinds[0] == "queued"
        assert kinds[-1] == "completed"
        after = events["events"][1]["id"]
        later = (await http.get(f"/v1/runs/{run_id}/events", params={"after": after})).json()
        assert [e["kind"] for e in later["events"]] == kinds[2:]
        listed = (await http.get("/v1/jobs", params={"status": "succeeded"})).json()
        assert [j["id"] for j in listed["jobs"]] == [job_id]
        canceled = (await http.post(f"/v1/runs/{run_id}/cancel")).json()
        assert canceled["status"] == "succeeded"
        missing = await http.get("/v1/runs/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"
        assert (await http.get("/v1/jobs/nope")).status_code == 404


async def test_progress_streams_as_server_sent_events(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.3, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with (
        open_engine_harness(settings) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=20) as http,
    ):
        run_id = await harness.engine.start_run(
            "test", [fal_still("s0"), fal_still("s1")], wait=FAST
        )
        seen: list[str] = []
        async with http.stream("GET", f"/v1/runs/{run_id}/stream") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    seen.append(line.split(":", 1)[1].strip())
    assert seen[0] == "queued"
    assert seen[-1] == "completed"
    assert seen.count("job_succeeded") == 2


async def test_webhooks_unknown_refused_and_replayed(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.0)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with (
        open_engine_harness(settings) as harness,
        httpx.AsyncClient(timeout=20) as http,
    ):
        submitted = await http.post(
            f"{emulator.base_url}/fal/queue/fal-ai/flux/dev",
            params={"fal_webhook": emulator.inbox_url("stray")},
            json={"prompt": "not one of ours"},
            headers={"Authorization": "Key test"},
        )
        submitted.raise_for_status()
        (delivery,) = await emulator.wait_for_inbox("stray", 1)
        headers = {
            k: v
            for k, v in delivery.headers.items()
            if k.lower().startswith("x-fal") or k.lower() == "content-type"
        }
        url = f"{harness.base_url}/webhooks/fal"
        first = await http.post(url, content=delivery.body, headers=headers)
        again = await http.post(url, content=delivery.body, headers=headers)
        forged = await http.post(url, content=delivery.body + b" ", headers=headers)
        nobody = await http.post(f"{harness.base_url}/webhooks/nobody", content=b"{}")
        recorded = await harness.services.catalog.webhook_events.list(provider="fal")
    assert (first.status_code, first.json()["outcome"]) == (200, "unknown")
    assert (again.status_code, again.json()["outcome"]) == (200, "unknown")
    assert forged.status_code == 401
    assert nobody.status_code == 404
    assert [r.outcome for r in recorded] == ["unknown", "unknown"]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    def apply(settings: Settings) -> None:
        monkeypatch.setenv("REELFORGE_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("REELFORGE_AUTH__ENABLED", "false")
        monkeypatch.setenv("REELFORGE_LOG_LEVEL", "warning")
        monkeypatch.setenv(
            "REELFORGE_PROVIDERS__FAL__BASE_URL", settings.providers["fal"]["base_url"]
        )
        for name, value in FAL_ENV.items():
            monkeypatch.setenv(name, value)

    return apply


def _cli(*args: str) -> Any:
    saved = structlog.get_config()
    try:
        result = CliRunner().invoke(cli_app, list(args))
    finally:
        structlog.configure(**saved)
    assert result.exit_code == 0, result.output
    return result.output


async def test_the_jobs_command_lists_shows_and_cancels(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl, cli_env: Any
) -> None:
    await emulator.configure(latency_s=0.2, queue_s=0.05)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    cli_env(settings)
    async with open_engine_harness(settings, webhooks=False) as harness:
        done_run = await _finished_run(harness)
        listed = json.loads(await asyncio.to_thread(_cli, "jobs", "list", "--json"))
        assert len(listed["jobs"]) == 2
        job_id = listed["jobs"][0]["id"]
        # A unique prefix of the id is enough.
        shown = json.loads(await asyncio.to_thread(_cli, "jobs", "show", job_id[:10], "--json"))
        assert shown["id"] == job_id
        assert shown["history"]
        table = await asyncio.to_thread(_cli, "jobs", "list", "--provider", "fal")
        assert "succee" in table
        assert "fal" in table
        followed = await asyncio.to_thread(_cli, "jobs", "show", done_run, "--follow", "--json")
        run = json.loads(followed)
        assert run["status"] == "succeeded"
        assert len(run["jobs"]) == 2

        await emulator.configure(latency_s=5.0)
        slow = await harness.engine.start_run("test", [fal_still("slow")], wait=FAST)

        async def started() -> bool:
            return "job_started" in [e.kind for e in await harness.engine.events(slow)]

        await wait_until(started, 15)
        canceled = json.loads(await asyncio.to_thread(_cli, "jobs", "cancel", slow, "--json"))
        assert canceled["status"] == "canceled"
    summary = (await emulator.ledger("fal"))["providers"]["fal"]
    # The command's cancel reaches fal; the engine's own poll, interrupted by the cancel, may
    # send its (idempotent) cancel too, depending on which of the two gets there first.
    assert 1 <= summary["calls"]["cancel"] <= 2
