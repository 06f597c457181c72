"""Queue control's faces over the fal emulator: REST (``/v1/queues``, the run controls), MCP
(a real client over streamable HTTP) and ``reelforge queue``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import structlog
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import Page, expect
from typer.testing import CliRunner

from fixtures import emulator as emulator_fixtures
from fixtures.browser import browser, page
from fixtures.emulator import EmulatorControl
from fixtures.engine import FAL_ENV, engine_settings, fal_still, open_engine_harness
from reelforge.cli.app import app as cli_app
from reelforge.emulator import EmulatorServer
from reelforge.engine.specs import WaitPolicy
from reelforge.settings import Settings

__all__ = ["browser", "page"]

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator
pytestmark = pytest.mark.usefixtures("restored_logging")

WAIT = WaitPolicy(poll_interval_s=0.1)


async def test_pause_resume_retry_priority_and_cancel_over_http(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(
        latency_s=0.1,
        queue_s=0.02,
        faults=[{"provider": "fal", "operation": "generate", "kind": "failed", "count": 1}],
    )
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with (
        open_engine_harness(settings, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=30) as http,
    ):
        paused = (await http.post("/v1/queues/fal/pause")).json()
        assert paused["scope"] == "provider"
        assert paused["paused"] is True
        run_id = await harness.engine.start_run(
            "test", [fal_still("a"), fal_still("b")], wait=WAIT, project_id="pier"
        )
        view = (await http.get("/v1/queues")).json()
        fal = next(q for q in view["providers"] if q["provider"] == "fal")
        assert fal["paused"] is True
        assert fal["queued"] == 2
        assert fal["held"] == 2
        moved = await http.post(f"/v1/runs/{run_id}/priority", json={"priority": "batch"})
        assert moved.status_code == 200
        assert moved.json()["priority"] == "batch"
        early_retry = await http.post(f"/v1/runs/{run_id}/retry")
        assert early_retry.status_code == 409
        assert early_retry.json()["error"]["code"] == "CONFLICT"

        resumed = (await http.post("/v1/queues/fal/resume")).json()
        assert resumed == {
            "scope": "provider",
            "target": "fal",
            "paused": False,
            "was_paused": True,
        }
        done = (await http.get(f"/v1/runs/{run_id}", params={"wait_s": 30})).json()
        assert done["status"] == "partial"

        retried = await http.post(f"/v1/runs/{run_id}/retry")
        assert retried.status_code == 200
        assert len(retried.json()["jobs"]) == 3
        again = await harness.engine.wait_for_run(run_id, 30)
        assert again.status == "succeeded"

        # A paused run, then everything queued for its project canceled.
        await http.post("/v1/queues/fal/pause")
        second = await harness.engine.start_run(
            "test", [fal_still("c")], wait=WAIT, project_id="pier"
        )
        held = (await http.post(f"/v1/runs/{second}/pause")).json()
        assert held["scope"] == "run"
        canceled = (await http.post("/v1/queues/cancel", json={"project_id": "pier"})).json()
        assert len(canceled["canceled"]) == 1
        assert (await http.post(f"/v1/runs/{second}/resume")).json()["was_paused"] is True
        await http.post("/v1/queues/fal/resume")

        bad = await http.post("/v1/queues/nobody/pause")
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "INVALID_INPUT"
        both = await http.post("/v1/queues/cancel", json={"provider": "fal", "project_id": "p"})
        assert both.status_code == 400
        assert both.json()["error"]["code"] == "INVALID_INPUT"
        missing = await http.post("/v1/runs/0123456789abcdef0123456789abcdef/pause")
        assert missing.status_code == 404


async def test_queue_tools_over_mcp(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with (
        open_engine_harness(settings, webhooks=False) as harness,
        httpx2.AsyncClient(timeout=30) as client,
        streamable_http_client(f"{harness.base_url}/mcp/", http_client=client) as (
            read,
            write,
            *_,
        ),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert {
            "queue_status",
            "pause_queue",
            "resume_queue",
            "retry_run",
            "set_run_priority",
            "cancel_queued",
        } <= tools
        paused = await _call(session, "pause_queue", {"provider": "fal"})
        assert paused["paused"] is True
        status = await _call(session, "queue_status", {})
        assert [q["provider"] for q in status["providers"] if q["paused"]] == ["fal"]
        refused = await session.call_tool("pause_queue", {"provider": "fal", "run_id": "r"})
        assert refused.is_error
        resumed = await _call(session, "resume_queue", {"provider": "fal"})
        assert resumed["was_paused"] is True
        assert (await _call(session, "queue_status", {}))["providers"] == []


async def _call(session: ClientSession, name: str, arguments: dict[str, Any]) -> Any:
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result.content
    return result.structured_content or json.loads(result.content[0].text)  # type: ignore[union-attr]


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


def _cli(*args: str, code: int = 0) -> Any:
    saved = structlog.get_config()
    try:
        result = CliRunner().invoke(cli_app, list(args))
    finally:
        structlog.configure(**saved)
    assert result.exit_code == code, result.output
    return result.output


async def test_the_queue_command_next_to_a_running_engine(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl, cli_env: Any
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    cli_env(settings)
    async with open_engine_harness(settings, webhooks=False) as harness:
        paused = json.loads(await asyncio.to_thread(_cli, "queue", "pause", "fal", "--json"))
        assert paused["paused"] is True
        run_id = await harness.engine.start_run("test", [fal_still("q")], wait=WAIT)
        status = json.loads(await asyncio.to_thread(_cli, "queue", "status", "--json"))
        assert status["providers"][0]["provider"] == "fal"
        assert status["providers"][0]["held"] == 1
        moved = json.loads(
            await asyncio.to_thread(_cli, "queue", "priority", run_id, "batch", "--json")
        )
        assert moved["priority"] == "batch"
        await asyncio.to_thread(_cli, "queue", "pause", "fal", "--run", run_id, code=1)
        resumed = json.loads(await asyncio.to_thread(_cli, "queue", "resume", "fal", "--json"))
        assert resumed["was_paused"] is True
        assert (await harness.engine.wait_for_run(run_id, 30)).status == "succeeded"
        canceled = json.loads(
            await asyncio.to_thread(_cli, "queue", "cancel", "--provider", "fal", "--json")
        )
        assert canceled == {"canceled": []}


async def test_the_run_page_pauses_resumes_and_retries_a_run(
    page: Page, tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(
        latency_s=0.1,
        queue_s=0.02,
        faults=[{"provider": "fal", "operation": "generate", "kind": "failed", "count": 1}],
    )
    settings = engine_settings(tmp_path / "data", emulator_server.base_url)
    async with open_engine_harness(settings, webhooks=False) as harness:
        service = harness.engine
        await service.queues.pause("provider", "fal")
        run_id = await service.start_run("test", [fal_still("x"), fal_still("y")], wait=WAIT)
        await page.goto(f"{harness.base_url}/runs/{run_id}")
        controls = page.locator("[data-run-controls]")
        await controls.get_by_role("button", name="Pause").click()
        await expect(controls.locator("[data-control-note]")).to_contain_text("paused")
        assert [p.target for p in (await service.queues.view()).paused_runs] == [run_id]
        await controls.locator("[data-priority]").select_option("batch")
        await expect(controls.locator("[data-control-note]")).to_contain_text("priority batch")
        await controls.get_by_role("button", name="Resume").click()
        await expect(controls.locator("[data-control-note]")).to_have_text("resumed")
        assert (await service.queues.view()).paused_runs == ()
        await service.queues.resume("provider", "fal")
        assert (await service.wait_for_run(run_id, 30)).status == "partial"

        await page.goto(f"{harness.base_url}/runs/{run_id}")
        await page.get_by_role("button", name="Retry failed jobs").click()
        await expect(page.locator("[data-run-status]")).to_have_text("succeeded", timeout=30_000)
        assert await page.locator("[data-job]").count() == 3
