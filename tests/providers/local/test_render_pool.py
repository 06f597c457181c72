"""The local studio renders in worker processes, never on the server's event loop: a render's
work runs in a child process at a lower priority, a dead worker fails only its own jobs, and
closing the studio leaves no process behind."""

from __future__ import annotations

import asyncio
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from reelforge.providers.base import (
    TERMINAL_STATES,
    Capability,
    Failed,
    GenerationRequest,
    JobHandle,
    JobState,
    ProviderDeps,
    Running,
    Succeeded,
)
from reelforge.providers.local.errors import LocalStudioError
from reelforge.providers.local.pool import RenderPool
from reelforge.providers.local.studio import LocalStudio, LocalStudioSettings


@pytest.fixture
async def studio() -> AsyncIterator[LocalStudio]:
    async with httpx.AsyncClient() as http:
        settings = LocalStudioSettings(render_processes=1, render_nice=5)
        provider = LocalStudio(settings, ProviderDeps(http=http, environ={}))
        yield provider
        await provider.aclose()


async def _until_terminal(studio: LocalStudio, handle: JobHandle) -> JobState:
    async with asyncio.timeout(120):
        while not isinstance(state := await studio.status(handle), TERMINAL_STATES):
            await asyncio.sleep(0.02)
    return state


def _still(prompt: str = "a lighthouse at dawn") -> GenerationRequest:
    return GenerationRequest(
        capability=Capability.TEXT_TO_IMAGE, prompt=prompt, width=320, height=180, seed=1
    )


def _worker_pids() -> set[int]:
    return {child.pid for child in multiprocessing.active_children() if child.pid is not None}


async def test_a_render_runs_in_a_worker_process_at_lower_priority(studio: LocalStudio) -> None:
    before = _worker_pids()
    state = await _until_terminal(studio, await studio.submit(_still()))
    assert isinstance(state, Succeeded)
    assert state.outputs[0].data is not None
    with Image.open(io.BytesIO(state.outputs[0].data)) as image:
        assert image.size == (320, 180)
    workers = _worker_pids() - before
    assert len(workers) == 1  # render_processes=1
    (worker,) = workers
    assert os.getpriority(os.PRIO_PROCESS, worker) == os.getpriority(os.PRIO_PROCESS, 0) + 5

    await studio.aclose()
    assert not _worker_pids() - before


async def test_a_worker_killed_mid_render_fails_its_job_and_the_next_job_renders(
    studio: LocalStudio,
) -> None:
    before = _worker_pids()
    long_clip = GenerationRequest(
        capability=Capability.TEXT_TO_VIDEO,
        prompt="a slow pan over the harbour",
        width=640,
        height=360,
        duration_s=30.0,
    )
    handle = await studio.submit(long_clip)
    async with asyncio.timeout(60):
        while not _worker_pids() - before:
            await asyncio.sleep(0.02)
    assert isinstance(await studio.status(handle), Running)
    for pid in _worker_pids() - before:
        os.kill(pid, signal.SIGKILL)

    state = await _until_terminal(studio, handle)
    assert isinstance(state, Failed)
    assert state.error.code == "LOCAL_STUDIO_ERROR"
    assert "render process stopped" in state.error.message
    again = await _until_terminal(studio, await studio.submit(_still("after the crash")))
    assert isinstance(again, Succeeded)


async def test_a_closed_pool_refuses_work() -> None:
    pool = RenderPool(1)
    assert not pool.started
    await pool.aclose()
    with pytest.raises(LocalStudioError, match="closed"):
        await pool.run(int, "1")
    with pytest.raises(ValueError, match="at least one"):
        RenderPool(0)


_OWNER = """
import asyncio, json, multiprocessing, sys
from reelforge.providers.local.pool import RenderPool

async def main() -> None:
    pool = RenderPool(2)
    await asyncio.gather(pool.run(sum, [1, 2]), pool.run(sum, [3, 4]))
    workers = [child.pid for child in multiprocessing.active_children()]
    print(json.dumps(workers), flush=True)
    await asyncio.Event().wait()

if __name__ == "__main__":
    asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
async def test_a_killed_server_leaves_no_render_process_behind(tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(_OWNER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    # Its resource tracker complains of the semaphores a kill -9 left: expected, not shown.
    owner = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert owner.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(owner.stdout.readline), 120)
        workers: list[int] = json.loads(line)
        helpers = {_parent(pid) for pid in workers} - {owner.pid}  # the forkserver, if any
        assert len(workers) == 2
    finally:
        owner.kill()  # kill -9: no clean-up of any kind in the owner
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    async with asyncio.timeout(30):
        while any(_alive(pid) for pid in [*workers, *helpers]):
            await asyncio.sleep(0.1)
