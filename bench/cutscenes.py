"""Benchmark: how fast ``POST /api/media/cutscenes`` answers while generations take seconds.

Run by hand from the repository root::

    .venv/bin/python bench/cutscenes.py [--rounds 10] [--latency 0.8]

The emulator runs in a process of its own (``reelforge emulate``); every fal generation (flux
still, then veo3.1 clip) takes ``--latency`` seconds. The API runs here, embedded (SQLite, API
and work in one process), with the engine and webhooks to this process. Measured over HTTP, as an
app would see it:

- ``trigger``: from sending the trigger to its ``202`` (``media_pending: true``), one at a time,
  each while the previous cutscene is still being made (the spec's turn loop: the narrative
  goes on, cutscenes render behind it). Target: under 100 ms.
- ``burst``: five triggers sent together (an agent reporting several moments at once).
- ``still ready`` / ``clip ready``: from the trigger to the SSE ``ready`` announcement of the
  still and of the clip (two generations back to back: the ideal is 1x and 2x the latency).

Results go to stdout and to ``bench/results/cutscenes.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from httpx_sse import aconnect_sse

from measure import report_head
from reelforge.api.app import create_app
from reelforge.catalog import upgrade_database
from reelforge.log import configure_logging
from reelforge.services import build_services, open_engine
from reelforge.settings import Settings

RESULTS = Path(__file__).parent / "results" / "cutscenes.txt"
FAL_KEY = "emulator-fal-key"
FAST = {"queue_poll_s": 0.05, "notification_poll_s": 0.02, "events_poll_s": 0.05}
CAMPAIGN, SESSION = "bench", "s1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def emulator(latency_s: float) -> AsyncIterator[str]:
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "reelforge", "emulate", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(400):
                try:
                    await http.get(f"{base}/_emulator/health")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
            await http.post(f"{base}/_emulator/config", json={"latency_s": latency_s})
        yield base
    finally:
        child.terminate()
        child.wait()


@asynccontextmanager
async def api(data_dir: Path, emulator_url: str) -> AsyncIterator[str]:
    settings = Settings(
        data_dir=data_dir,
        auth={"enabled": False},
        ingest={"allowed_hosts": ["127.0.0.1"]},
        providers={"fal": {"base_url": f"{emulator_url}/fal"}},
        engine=FAST,
    )
    await upgrade_database(settings.effective_database_url)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = settings.model_copy(update={"public_url": base})
    services = build_services(settings, environ={"FAL_KEY": FAL_KEY})
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        await open_engine(services, "api")
        yield base
    finally:
        server.should_exit = True
        await task
        sock.close()
        await services.aclose()


class Watcher:
    """Follows the session's SSE stream; notes when each media id was announced ready."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self.ready: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        params = {"campaign_id": CAMPAIGN, "session_id": SESSION}
        async with aconnect_sse(self._http, "GET", "/api/media/sse", params=params) as source:
            async for sse in source.aiter_sse():
                if sse.event == "ready":
                    self.ready[json.loads(sse.data)["media_id"]] = time.perf_counter()

    async def wait(self, media_id: str, timeout_s: float = 120) -> float:
        async with asyncio.timeout(timeout_s):
            while media_id not in self.ready:
                await asyncio.sleep(0.01)
        return self.ready[media_id]


async def trigger(http: httpx.AsyncClient, turn: int) -> tuple[float, dict[str, Any]]:
    body = {
        "campaign_id": CAMPAIGN,
        "session_id": SESSION,
        "turn_number": turn,
        "cutscene_type": "action_climax",
        "image_prompt": f"turn {turn}: a duel on the rooftops in the rain",
        "motion_prompt": "fast push-in",
    }
    started = time.perf_counter()
    response = await http.post("/api/media/cutscenes", json=body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    assert answer["media_pending"] is True
    return elapsed, answer


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(values) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
        f"max {max(values) * 1000:6.1f} ms  (n={len(values)})"
    )


def _s(values: list[float]) -> str:
    return f"median {statistics.median(values):5.2f} s  best {min(values):5.2f} s"


async def main(rounds: int, latency_s: float) -> str:
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="reelforge-bench-") as folder:
        async with (
            emulator(latency_s) as emulator_url,
            api(Path(folder) / "data", emulator_url) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as http,
        ):
            settings = {
                "enabled": True,
                "quality": "draft",
                "clip_duration_s": 4,
                "image_provider": "fal",
                "video_provider": "fal",
                "budget_per_session_usd": None,
            }
            await http.put("/api/media/settings", params={"campaign_id": CAMPAIGN}, json=settings)
            async with Watcher(http) as watcher:
                await trigger(http, 0)  # warm-up
                triggers, stills, clips = [], [], []
                pending: list[tuple[float, dict[str, Any]]] = []
                for turn in range(1, rounds + 1):
                    sent = time.perf_counter()
                    elapsed, answer = await trigger(http, turn)
                    triggers.append(elapsed)
                    pending.append((sent, answer))
                    # The next turn comes while this cutscene renders (after its still).
                    await watcher.wait(answer["image_asset_id"])
                for sent, answer in pending:
                    stills.append(await watcher.wait(answer["image_asset_id"]) - sent)
                    clips.append(await watcher.wait(answer["video_asset_id"]) - sent)
                burst = await asyncio.gather(*(trigger(http, 100 + i) for i in range(5)))
                for _, answer in burst:
                    await watcher.wait(answer["video_asset_id"])
    load_end = os.getloadavg()[0]
    under = sum(1 for t in triggers if t < 0.1)
    lines = [
        *report_head("Reelforge cutscenes benchmark (bench/cutscenes.py)"),
        f"python:  {platform.python_version()}; emulator latency {latency_s} s per generation "
        "(fal flux still, then veo3.1 clip), in its own process",
        f"load:    1-min load average {load_start:.2f} at the start, {load_end:.2f} at the end "
        "(the machine is shared; other work adds noise)",
        "",
        f"trigger       {_ms(triggers)}   POST /api/media/cutscenes -> 202, one per turn",
        f"burst         {_ms([t for t, _ in burst])}   5 triggers sent together",
        f"still ready   {_s(stills)}   trigger -> SSE ready (ideal {latency_s:.2f} s)",
        f"clip ready    {_s(clips)}   trigger -> SSE ready (ideal {2 * latency_s:.2f} s)",
        "",
        f"target:  trigger < 100 ms: {under}/{len(triggers)} under "
        f"({'MET' if statistics.median(triggers) < 0.1 else 'MISSED'} at the median)",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.8)
    args = parser.parse_args()
    configure_logging("warning")
    report = asyncio.run(main(args.rounds, args.latency))
    print(report, end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
