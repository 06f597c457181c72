"""Worker processes for the local studio's renders, away from the server's event loop.

A render is CPU work in Python, NumPy, OpenCV and PyAV. Much of it holds the GIL, so in a
thread it still stalls the event loop that answers requests and drives the job engine (a
burst of cutscenes made each trigger wait seconds). In a process of its own it only shares the
CPU, and the processes run at a lower priority (a ``nice`` increment, where the platform has
one) so that the server's own work comes first. A worker ends with the server, however the
server ends (a killed server leaves no process behind).

:class:`RenderPool` wraps the standard library's ``ProcessPoolExecutor``. Its processes start on
the first render and are reused. They are never forked from the server (a fork of a process that
runs threads, as the engine's, can inherit a lock held by another thread): where the platform
has one, they are forked from multiprocessing's *forkserver*, a small single-threaded process
started once per server with the rendering modules imported, so a new worker costs milliseconds,
not seconds of imports; elsewhere they are spawned. :meth:`RenderPool.run` awaits one call. A worker
that dies (killed, out of memory) breaks the executor: the calls in flight fail with
:class:`~reelforge.providers.local.errors.LocalStudioError` and the next call gets a new one.
:meth:`RenderPool.aclose` drops the calls not started and waits for those running.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from typing import ParamSpec, TypeVar

from reelforge.log import get_logger
from reelforge.providers.local.errors import LocalStudioError

__all__ = ["RenderPool"]

log = get_logger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


# What the forkserver imports once, so that every worker forked from it has it already.
_PRELOAD = ["reelforge.providers.local.rendering"]


def _start_method() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)  # no effect once the forkserver runs
        return context
    return multiprocessing.get_context("spawn")


def _start_worker(nice: int) -> None:
    """In each worker, before its first render: its priority, and its end with the server."""
    if nice and hasattr(os, "nice"):
        os.nice(nice)
    server = multiprocessing.parent_process()
    if server is not None:
        # A worker waits for its next call on a queue it holds both ends of: were the server
        # killed (kill -9, out of memory), it would wait forever, and keep the forkserver
        # alive with it. So it watches the server and leaves with it.
        threading.Thread(target=_exit_with, args=(server,), daemon=True).start()


def _exit_with(server: multiprocessing.process.BaseProcess) -> None:
    server.join()
    os._exit(0)


class RenderPool:
    """``processes`` worker processes at ``nice`` lower priority, started when first used."""

    def __init__(self, processes: int, *, nice: int = 0) -> None:
        if processes < 1:
            raise ValueError("a render pool needs at least one process")
        self.processes = processes
        self.nice = nice
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    @property
    def started(self) -> bool:
        """Whether worker processes exist (they start with the first render)."""
        return self._executor is not None

    def _running_executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise LocalStudioError("The local studio is closed.", provider="local")
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=_start_method(),
                initializer=_start_worker,
                initargs=(self.nice,),
            )
        return self._executor

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``call(*args, **kwargs)`` in a worker process (both must pickle); canceling the
        await drops a call that has not started (one that has runs to its end, unheard)."""
        executor = self._running_executor()
        try:
            return await asyncio.wrap_future(executor.submit(call, *args, **kwargs))
        except BrokenExecutor as exc:
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            log.error("local_studio.render_process_died", error=str(exc))
            raise LocalStudioError(
                "A local studio render process stopped unexpectedly; submit the job again.",
                provider="local",
            ) from None

    async def aclose(self) -> None:
        """Stop the workers: calls not started are dropped, running ones are waited for."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
