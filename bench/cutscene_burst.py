"""Benchmark: a burst of cutscene triggers on the offline default (the local studio).

Run by hand from the repository root::

    .venv/bin/python bench/cutscene_burst.py [--triggers 100] [--database sqlite|postgresql|both]

``reelforge serve`` runs in a child process (API and work in one process, as a user runs it),
with the local studio rendering every still and clip; on SQLite the engine is embedded, on
PostgreSQL (``127.0.0.1:5432``, trust auth, a scratch database created and dropped here) the
catalog and DBOS share the database and the server runs the work too
(``engine.api_executes``). This process is the app:

- it sends ``--triggers`` triggers back to back (``POST /api/media/cutscenes``, each sent when
  the previous one answered) while rendering goes on behind them, and times each;
- meanwhile it asks ``GET /healthz`` every 50 ms, so the triggers' times can be read against
  what any request costs in the same run, on the same loaded machine;
- with ``--restart`` (the default) it kills the server (``kill -9``) once the burst has been
  answered and part of it rendered, and starts it again;
- it follows the session's SSE stream and waits until every media record is terminal (``ready``,
  ``failed`` or ``skipped``, announced), or ``--settle`` seconds pass: what is left is stuck.

Reported per database: every cutscene terminal or not (and which are stuck), trigger and healthz
p50/p99/max, the number of 5xx answers, and whether each was logged by the server. Goals: no
5xx, nothing stuck, trigger p99 <= 100 ms. Results go to stdout and
``bench/results/cutscene_burst.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from measure import report_head

RESULTS = Path(__file__).parent / "results" / "cutscene_burst.txt"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CAMPAIGN, SESSION = "burst", "s1"
TERMINAL_EVENTS = ("ready", "failed", "skipped")
HEALTH_EVERY_S = 0.05


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def scratch_database(kind: str) -> AsyncIterator[str | None]:
    """``None`` for SQLite (the default files in the data folder); a fresh PostgreSQL
    database's URL, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    name = f"reelforge_bench_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(statement: str) -> None:
    engine = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


class Server:
    """``reelforge serve`` in a child process; its log (stderr) goes to a file."""

    def __init__(self, folder: Path, database_url: str | None, extra: dict[str, str]) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "server.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
        self.env.update(
            {
                "REELFORGE_DATA_DIR": str(folder / "data"),
                "REELFORGE_AUTH__ENABLED": "false",
                "REELFORGE_SERVER__PORT": str(self.port),
                "REELFORGE_LOG_LEVEL": "warning",
                "REELFORGE_PUBLIC_URL": self.base_url,
            }
        )
        if database_url is not None:
            self.env["REELFORGE_DATABASE_URL"] = database_url
            # Scale-out mode: this one server runs the work too, as the embedded one does.
            self.env["REELFORGE_ENGINE__API_EXECUTES"] = "true"
        self.env.update(extra)
        self.child: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.child = subprocess.Popen(
                [sys.executable, "-m", "reelforge", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its rendering processes share its group
            )
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False) as http:
            for _ in range(1200):
                if self.child.poll() is not None:
                    raise RuntimeError(f"the server exited: see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError("the server did not answer /healthz within a minute")

    def kill(self) -> None:
        """``kill -9`` the server, and its rendering processes with it (their group)."""
        assert self.child is not None
        os.killpg(self.child.pid, signal.SIGKILL)
        self.child.wait()

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGINT)
            try:
                self.child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Burst:
    """What one database's run measured."""

    database: str
    triggers: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    health_statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    media: dict[str, str] = field(default_factory=dict)  # media id -> final status
    announced: dict[str, str] = field(default_factory=dict)  # media id -> last terminal event
    errors: dict[str, str] = field(default_factory=dict)  # media id -> why it failed
    reading_errors: list[str] = field(default_factory=list)  # 5xx of the gallery, settling
    cutscenes: int = 0
    settle_s: float = 0.0
    restarted: bool = False
    logged_500s: int = 0
    wall_s: float = 0.0

    @property
    def stuck(self) -> list[str]:
        return sorted(m for m, s in self.media.items() if s in ("pending", "generating"))

    @property
    def unannounced(self) -> list[str]:
        return sorted(m for m in self.media if m not in self.announced)


class Health:
    """``GET /healthz`` every 50 ms until stopped; each answer's time kept."""

    def __init__(self, http: httpx.AsyncClient, into: list[float], statuses: dict[int, int]):
        self._http = http
        self._into = into
        self._statuses = statuses
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Health:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            response = await self._http.get("/healthz")
            self._into.append(time.perf_counter() - started)
            self._statuses[response.status_code] = self._statuses.get(response.status_code, 0) + 1
            await asyncio.sleep(HEALTH_EVERY_S)


class Announcements:
    """Follows the session's SSE stream (reconnecting with ``Last-Event-ID``); keeps the last
    terminal announcement of each media record."""

    def __init__(self, base_url: str, into: dict[str, str]) -> None:
        self._base_url = base_url
        self._into = into
        self._last_id = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Announcements:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        params = {"campaign_id": CAMPAIGN, "session_id": SESSION}
        while True:
            headers = {"Last-Event-ID": str(self._last_id)} if self._last_id else {}
            try:
                async with (
                    httpx.AsyncClient(base_url=self._base_url, timeout=None, trust_env=False) as h,
                    aconnect_sse(h, "GET", "/api/media/sse", params=params, headers=headers) as s,
                ):
                    async for sse in s.aiter_sse():
                        if sse.id:
                            self._last_id = int(sse.id)
                        if sse.event in TERMINAL_EVENTS:
                            self._into[json.loads(sse.data)["media_id"]] = sse.event
            except httpx.HTTPError:
                await asyncio.sleep(0.5)  # the server restarts: reconnect


def _trigger_body(turn: int) -> dict[str, Any]:
    return {
        "campaign_id": CAMPAIGN,
        "session_id": SESSION,
        "turn_number": turn,
        "cutscene_type": "action_climax",
        "image_prompt": f"turn {turn}: a duel on the rooftops in the rain",
        "motion_prompt": "fast push-in",
        "characters": ["Kai"],
        "mood": "storm-lit",
    }


async def _media(
    http: httpx.AsyncClient, measured: Burst, errors: dict[str, str] | None = None
) -> dict[str, str] | None:
    """Each media record's status (and, into ``errors``, each failure's code and message);
    None when the gallery did not answer (a 5xx is counted)."""
    params: dict[str, str | int] = {"campaign_id": CAMPAIGN, "session_id": SESSION, "limit": 500}
    try:
        response = await http.get("/api/media/gallery", params=params)
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        measured.reading_errors.append(f"gallery: {response.status_code} {response.text[:300]}")
        return None
    found = response.json()["media"]
    if errors is not None:
        for media in found:
            if media["error"] is not None:
                errors[media["id"]] = f"{media['error']['code']}: {media['error']['message']}"
    return {media["id"]: media["status"] for media in found}


async def burst(database: str, options: argparse.Namespace) -> Burst:
    measured = Burst(database)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reelforge-burst-") as folder:
        async with scratch_database(database) as url:
            extra = dict(item.split("=", 1) for item in options.server_env)
            server = Server(Path(folder), url, extra)
            try:
                await server.start()
                await _run(server, measured, options)
            finally:
                server.stop()
                log = server.log()
                if options.keep_logs is not None:
                    options.keep_logs.mkdir(parents=True, exist_ok=True)
                    (options.keep_logs / f"{database}.log").write_text(log)
            measured.logged_500s = log.count("api.unhandled_error") + log.count("api.server_error")
    measured.wall_s = time.perf_counter() - began
    return measured


async def _run(server: Server, measured: Burst, options: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, trust_env=False) as http:
        settings = {
            "enabled": True,
            "quality": options.quality,
            "clip_duration_s": options.clip_seconds,
            "budget_per_session_usd": None,
        }
        put = await http.put("/api/media/settings", params={"campaign_id": CAMPAIGN}, json=settings)
        put.raise_for_status()
        async with Announcements(server.base_url, measured.announced):
            async with Health(http, measured.health, measured.health_statuses):
                await asyncio.sleep(1.0)  # a baseline of healthz before the burst
                for turn in range(options.triggers):
                    started = time.perf_counter()
                    response = await http.post("/api/media/cutscenes", json=_trigger_body(turn))
                    measured.triggers.append(time.perf_counter() - started)
                    code = response.status_code
                    measured.statuses[code] = measured.statuses.get(code, 0) + 1
                    if code >= 500:
                        measured.server_errors.append(f"turn {turn}: {code} {response.text[:300]}")
                    elif code == 202:
                        measured.cutscenes += 1
                await asyncio.sleep(1.0)  # and after it, while rendering goes on
            if options.restart:
                await _wait_rendered(http, measured, options.triggers // 4, options.settle)
                server.kill()
                measured.restarted = True
                await server.start()
            settled = time.perf_counter()
            deadline = settled + options.settle
            while time.perf_counter() < deadline:
                errors: dict[str, str] = {}
                media = await _media(http, measured, errors)
                if media is None:
                    await asyncio.sleep(1.0)
                    continue
                measured.media, measured.errors = media, errors
                if not measured.stuck and not measured.unannounced:
                    break
                await asyncio.sleep(1.0)
            measured.settle_s = time.perf_counter() - settled


async def _wait_rendered(
    http: httpx.AsyncClient, measured: Burst, count: int, timeout_s: float
) -> None:
    """Until ``count`` media records are terminal (then a restart lands mid-work)."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        media = await _media(http, measured) or {}
        done = [s for s in media.values() if s not in ("pending", "generating")]
        if len(done) >= count:
            return
        await asyncio.sleep(0.5)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> str:
    if not values:
        return "no answers"
    return (
        f"p50 {statistics.median(values) * 1000:7.1f} ms  p99 {_quantile(values, 0.99) * 1000:7.1f}"
        f" ms  max {max(values) * 1000:7.1f} ms  (n={len(values)})"
    )


def _section(run: Burst) -> list[str]:
    fives = sum(count for code, count in run.statuses.items() if code >= 500)
    other_fives = len(run.reading_errors) + sum(
        count for code, count in run.health_statuses.items() if code >= 500
    )
    finals: dict[str, int] = {}
    for status in run.media.values():
        finals[status] = finals.get(status, 0) + 1
    p99 = _quantile(run.triggers, 0.99) if run.triggers else float("inf")
    lines = [
        f"## {run.database}"
        + (" (embedded: catalog and DBOS in SQLite files)" if run.database == "sqlite" else "")
        + (" (catalog and DBOS in one scratch database)" if run.database != "sqlite" else ""),
        f"trigger   {_ms(run.triggers)}   POST /api/media/cutscenes, back to back",
        f"healthz   {_ms(run.health)}   GET /healthz every 50 ms, same run",
        f"answers   triggers {dict(sorted(run.statuses.items()))}; 5xx: {fives} "
        f"(other requests: {other_fives}); "
        f"logged by the server as 5xx: {run.logged_500s}",
        f"media     {len(run.media)} of {run.cutscenes} cutscenes: "
        + ", ".join(f"{status} {count}" for status, count in sorted(finals.items())),
        f"announced terminal on the SSE stream: {len(run.media) - len(run.unannounced)}"
        f"/{len(run.media)}",
        f"stuck     {len(run.stuck)}" + (f": {', '.join(run.stuck[:10])}" if run.stuck else ""),
        f"restart   {'kill -9 mid-rendering, then serve again' if run.restarted else 'none'}; "
        f"settled {run.settle_s:.1f} s after the burst"
        + (" (and the restart)" if run.restarted else "")
        + f"; {run.wall_s:.0f} s in all",
        f"goals     5xx 0: {'MET' if fives + other_fives == 0 else 'MISSED'}; nothing stuck: "
        f"{'MET' if not run.stuck and not run.unannounced else 'MISSED'}; trigger p99 <= 100 ms: "
        f"{'MET' if p99 <= 0.1 else 'MISSED'}",
    ]
    lines.extend(f"  {error}" for error in [*run.server_errors, *run.reading_errors][:5])
    causes: dict[str, int] = {}
    for error in run.errors.values():
        causes[error[:160]] = causes.get(error[:160], 0) + 1
    lines.extend(f"  failed x{count}: {cause}" for cause, count in sorted(causes.items()))
    return lines


async def main(options: argparse.Namespace) -> str:
    load_start = os.getloadavg()
    databases = ["sqlite", "postgresql"] if options.database == "both" else [options.database]
    runs = [await burst(database, options) for database in databases]
    load_end = os.getloadavg()
    lines = [
        *report_head("Reelforge cutscene burst benchmark (bench/cutscene_burst.py)"),
        f"python:  {platform.python_version()}; local studio (the offline default) renders every "
        f"still and clip in the server's process pool; quality {options.quality}, "
        f"clips of {options.clip_seconds:g} s",
        f"load:    load average {_load(load_start)} at the start, {_load(load_end)} at the end "
        "(the machine is shared with other work and loaded; timings carry its noise)",
        f"method:  {options.triggers} triggers back to back (each sent when the previous one "
        "answered) to `reelforge serve` in a child process; healthz probed every 50 ms "
        "meanwhile; "
        + ("kill -9 and restart once part of the burst rendered; " if options.restart else "")
        + "then wait until every media record is terminal",
        "",
    ]
    for run in runs:
        lines.extend([*_section(run), ""])
    return "\n".join(lines)


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in values)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=100)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--quality", choices=["draft", "standard", "high"], default="standard")
    parser.add_argument("--clip-seconds", type=float, default=6.0)
    parser.add_argument("--settle", type=float, default=1800.0, help="seconds to wait for all")
    parser.add_argument("--no-restart", dest="restart", action="store_false")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--server-env", action="append", default=[], help="KEY=VALUE for the server (repeat)"
    )
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy server logs here")
    args = parser.parse_args()
    report = asyncio.run(main(args))
    print(report, end="")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
