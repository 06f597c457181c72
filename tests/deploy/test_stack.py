"""``scripts/stack --emulator``, as a person runs it: its own PostgreSQL cluster, moto's S3, the
emulator, the API and two workers. A 12-frame keyframes run on fal (the emulator) is shared by
both workers and stored in S3; an image comes back through the API and decodes; Ctrl-C
(SIGINT) stops the stack with no process of it left."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML, which moto[server] installs
from PIL import Image

from fixtures.database import NO_POSTGRES_ENV
from keyframes.keyframes_support import storyboard

pytestmark = pytest.mark.s3

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "stack"
_TOKEN = "stack-test-token"
_FRAMES = 12
_START_S = 240.0
_RUN_S = 180.0
_STOP_S = 90.0
_STARTED = re.compile(r"^stack\s+\| started (\S+) \(pid (\d+)\): (.*)$", re.M)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _session_processes(session_ids: set[int]) -> list[str]:
    """Live (not zombie) processes that are in one of these sessions, as "pid command"."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) in session_ids and state != "Z":
            found.append(f"{entry} {command.decode(errors='replace')}")
    return found


async def _wait_for_line(log: Path, process: subprocess.Popen[bytes], marker: str) -> str:
    async with asyncio.timeout(_START_S):
        while True:
            text = log.read_text(errors="replace")
            for line in text.splitlines():
                if marker in line:
                    return line
            assert process.poll() is None, f"the stack ended before {marker!r}:\n{text}"
            await asyncio.sleep(0.5)


async def _render(http: httpx.AsyncClient) -> dict[str, object]:
    started = await http.post("/v1/keyframes", params={"wait_s": 0}, json=storyboard(_FRAMES))
    assert started.status_code in (200, 202), started.text
    run_id = started.json()["run_id"]
    async with asyncio.timeout(_RUN_S):
        while True:
            answer = await http.get(f"/v1/keyframes/{run_id}", params={"wait_s": 30})
            if answer.status_code == 200:
                body: dict[str, object] = answer.json()
                return body
            assert answer.status_code == 202, answer.text


@pytest.mark.postgres
async def test_the_stack_runs_a_render_across_two_workers_and_stops_clean(
    tmp_path: Path,
) -> None:
    if os.environ.get(NO_POSTGRES_ENV) == "1":
        pytest.skip(f"{NO_POSTGRES_ENV}=1: the stack starts a PostgreSQL cluster of its own")
    port, emulator_port = _free_port(), _free_port()
    log = tmp_path / "stack.log"
    env = dict(os.environ) | {
        "REELFORGE_VENV": sys.prefix,
        "REELFORGE_AUTH__TOKENS": json.dumps([_TOKEN]),
        # Four jobs at a time per worker: twelve jobs need both of them.
        "REELFORGE_ENGINE__QUEUES": json.dumps({"fal": {"worker_concurrency": 4}}),
    }
    argv = ["bash", str(SCRIPT), "--emulator", "--port", str(port)]
    argv += ["--emulator-port", str(emulator_port)]
    with log.open("wb") as output:
        stack = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=output, stderr=output)
    try:
        ready = await _wait_for_line(log, stack, "stack     | ready: API")
        data_dir = Path(ready.split("data in ", 1)[1].split(";", 1)[0])
        base_url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {_TOKEN}"}
        async with httpx.AsyncClient(timeout=60, trust_env=False) as control:
            # Each job takes a second at the emulator, so the two workers' jobs overlap.
            emulator = f"http://127.0.0.1:{emulator_port}/_emulator/config"
            (await control.post(emulator, json={"latency_s": 1.0})).raise_for_status()
        async with httpx.AsyncClient(base_url=base_url, headers=auth, timeout=60) as http:
            response = await _render(http)
            frames = response["generated_frames"]
            assert isinstance(frames, list)
            assert response["failed_frames"] == []
            assert len(frames) == _FRAMES
            image_url = frames[0]["image_url"]
            assert image_url.startswith(f"{base_url}/media/"), image_url
            fetched = await http.get(image_url)
            assert fetched.status_code == 200
            image = Image.open(io.BytesIO(fetched.content))
            image.load()
            assert image.size == (512, 288)
            jobs = (await http.get(f"/v1/runs/{response['run_id']}")).json()["jobs"]
            assert {job["provider"] for job in jobs} == {"fal"}
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            status = stack.wait(timeout=_STOP_S)
        except subprocess.TimeoutExpired:
            stack.kill()
            raise
    text = log.read_text(errors="replace")
    assert status == 0, text
    # Merged logs, one prefix a process: each worker stored some of the frames.
    succeeded = {
        name: len(re.findall(rf"^{name}\s+\| .*job\.succeeded", text, re.M))
        for name in ("worker-1", "worker-2")
    }
    assert all(count > 0 for count in succeeded.values()), succeeded
    assert sum(succeeded.values()) == _FRAMES, succeeded
    started = {int(pid): name for name, pid, _ in _STARTED.findall(text)}
    # The container image's processes (compose.yaml) are started with the same commands.
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    for name, _, command in _STARTED.findall(text):
        if name in ("api", "worker-1", "worker-2"):
            program, *arguments = command.split()
            assert [Path(program).name, *arguments] == compose[name]["command"]
    assert set(started.values()) >= {"postgres", "s3", "emulator", "api", "worker-1"}
    assert _session_processes(set(started)) == []
    assert not data_dir.exists()


async def test_a_process_that_ends_stops_the_stack(tmp_path: Path) -> None:
    """Nothing listens at this database: the API and the workers end at start, and the stack
    names the first, stops everything and exits 1."""
    closed = _free_port()
    env = dict(os.environ) | {
        "REELFORGE_VENV": sys.prefix,
        "REELFORGE_AUTH__TOKENS": json.dumps([_TOKEN]),
        "REELFORGE_DATABASE_URL": f"postgresql+asyncpg://reelforge@127.0.0.1:{closed}/reelforge",
    }
    argv = ["bash", str(SCRIPT), "--port", str(_free_port())]
    result = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=_START_S
    )
    assert result.returncode == 1, result.stdout + result.stderr
    stopped_by = r"^stack +\| (api|worker-\d) exited with status 1\b.*; stopping the stack$"
    assert re.search(stopped_by, result.stdout, re.M), result.stdout
    assert "ready: API" not in result.stdout
    started = {int(pid) for _, pid, _ in _STARTED.findall(result.stdout)}
    assert len(started) >= 2  # s3 and the API at least
    assert _session_processes(started) == []
