"""A small process supervisor for ``scripts/stack``: start in order, merge logs, stop everything.

Each process runs in a session of its own, so a terminal's Ctrl-C reaches only the supervisor,
which then stops the processes in reverse order of start (its ``stop_signal``, then SIGKILL
after a grace period, at once after a second Ctrl-C) and kills whatever is left in each
process's session (a child's own children included). Every line a process prints is printed
once, prefixed with its name.

Policy: a process marked ``restart`` (the workers: a worker that finds itself fenced exits and
expects to be started again) is restarted after a second, unless it ended ``max_restarts``
times within ``restart_window_s``; any other process that ends while the stack runs is a crash
and stops the whole stack (exit status 1).

Standard library only; Linux (the sessions' members are read from /proc).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["Crashed", "Process", "Supervisor"]

ReadyProbe = Callable[[], Awaitable[bool]]
_LINE_LIMIT = 1024 * 1024


@dataclass
class Process:
    """One supervised process: what to run, how to know it is ready, how to stop it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None
    #: Polled until it answers True (or the process ends) before the next process starts.
    ready: ReadyProbe | None = None
    #: A line the process prints once it is ready (checked as a substring), instead of a probe.
    ready_line: str | None = None
    ready_timeout_s: float = 120.0
    restart: bool = False
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout_s: float = 30.0
    #: Run as this user (the supervisor must be root): PostgreSQL refuses to run as root.
    user: str | None = None
    handle: asyncio.subprocess.Process | None = field(default=None, init=False)
    saw_ready_line: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    exits: list[float] = field(default_factory=list, init=False)


class Crashed(Exception):
    """A process the stack needs ended, or never became ready."""


class Supervisor:
    """Starts processes one after another and keeps them running until :meth:`stop`."""

    def __init__(self, *, max_restarts: int = 5, restart_window_s: float = 60.0) -> None:
        self._processes: list[Process] = []
        self._pumps: list[asyncio.Task[None]] = []
        self._stopping = False
        self._hurry = asyncio.Event()
        self._crash: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._max_restarts = max_restarts
        self._restart_window_s = restart_window_s
        self._width = 9

    def say(self, message: str) -> None:
        self._print("stack", message)

    @property
    def crashed(self) -> asyncio.Future[str]:
        """Resolves with a message once a process has crashed for good."""
        return self._crash

    async def start(self, process: Process) -> None:
        """Start ``process`` and wait until it is ready; :class:`Crashed` if it ends first."""
        self._processes.append(process)
        self._width = max(self._width, len(process.name))
        await self._spawn(process)
        await self._wait_ready(process)

    def hurry(self) -> None:
        """Stop waiting for processes to end on their own: kill them (a second Ctrl-C)."""
        self._hurry.set()

    async def stop(self) -> None:
        """Stop every process, last started first; nothing is left running afterwards."""
        self._stopping = True
        for process in reversed(self._processes):
            await self._stop_one(process)
        for pump in self._pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _spawn(self, process: Process) -> None:
        extra: dict[str, object] = {}
        if process.user is not None:
            extra = {"user": process.user, "group": process.user, "extra_groups": []}
        process.saw_ready_line.clear()
        process.handle = await asyncio.create_subprocess_exec(
            *process.argv,
            env=process.env,
            cwd=process.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            limit=_LINE_LIMIT,
            **extra,  # type: ignore[arg-type]
        )
        if self._stopping:  # a restart that raced the stop: it must not outlive the stack
            _kill_session(process.handle.pid)
            await process.handle.wait()
            return
        self.say(f"started {process.name} (pid {process.handle.pid}): {' '.join(process.argv)}")
        self._pumps.append(asyncio.create_task(self._pump(process, process.handle)))

    async def _wait_ready(self, process: Process) -> None:
        handle = process.handle
        assert handle is not None
        deadline = time.monotonic() + process.ready_timeout_s
        while not await self._is_ready(process):
            if handle.returncode is not None:
                raise Crashed(f"{process.name} exited with status {handle.returncode} at start")
            if time.monotonic() > deadline:
                raise Crashed(f"{process.name} was not ready within {process.ready_timeout_s} s")
            await asyncio.sleep(0.2)
        self.say(f"{process.name} is ready")

    async def _is_ready(self, process: Process) -> bool:
        if process.ready_line is not None and not process.saw_ready_line.is_set():
            return False
        if process.ready is not None:
            try:
                return await process.ready()
            except OSError:
                return False
        return True

    async def _pump(self, process: Process, handle: asyncio.subprocess.Process) -> None:
        """Print the process's lines with its prefix; when it ends, restart it or crash."""
        assert handle.stdout is not None
        while True:
            try:
                line = await handle.stdout.readline()
            except ValueError:  # past _LINE_LIMIT: the reader dropped it and goes on
                self._print(process.name, f"[a line over {_LINE_LIMIT} bytes left out]")
                continue
            if not line:
                break
            text = line.decode(errors="replace").rstrip()
            if process.ready_line is not None and process.ready_line in text:
                process.saw_ready_line.set()
            self._print(process.name, text)
        status = await handle.wait()
        _kill_session(handle.pid)
        if self._stopping or handle is not process.handle:
            return
        now = time.monotonic()
        process.exits = [t for t in process.exits if now - t < self._restart_window_s] + [now]
        if process.restart and len(process.exits) <= self._max_restarts:
            self.say(f"{process.name} exited with status {status}; restarting it in 1 s")
            await asyncio.sleep(1.0)
            if not self._stopping:
                await self._spawn(process)
            return
        reason = f"{process.name} exited with status {status}"
        if process.restart:
            reason += f" ({len(process.exits)} times within {self._restart_window_s:.0f} s)"
        if not self._crash.done():
            self._crash.set_result(reason)

    async def _stop_one(self, process: Process) -> None:
        handle = process.handle
        if handle is None:
            return
        if handle.returncode is None:
            self.say(f"stopping {process.name}")
            with contextlib.suppress(ProcessLookupError):
                handle.send_signal(process.stop_signal)
            ended = asyncio.ensure_future(handle.wait())
            hurried = asyncio.ensure_future(self._hurry.wait())
            await asyncio.wait(
                {ended, hurried}, timeout=process.stop_timeout_s, return_when=FIRST_COMPLETED
            )
            hurried.cancel()
            if not ended.done():
                self.say(f"{process.name} has not stopped: killing it")
                with contextlib.suppress(ProcessLookupError):
                    handle.kill()
            await ended
        _kill_session(handle.pid)

    def _print(self, name: str, text: str) -> None:
        sys.stdout.write(f"{name:<{self._width}} | {text}\n")
        sys.stdout.flush()


def _kill_session(session_id: int) -> None:
    """SIGKILL every process still in the session ``session_id`` leads (its leader is gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session_id, signal.SIGKILL)
    for pid in _session_members(session_id):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _session_members(session_id: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, session.
        if int(fields[3]) == session_id and fields[0] != "Z":
            members.append(int(entry))
    return members
