"""Jobs gathered into batches, run one batch at a time by the one thread that owns the device.

A job joins the pending batch of its key (same model, capability, size, steps, guidance and
strength); the first job of a batch waits ``batch_window_s`` for others to join, up to
``batch_size``. Batches run one after another in a single thread, so one process never has two
pipelines competing for the GPU. Each job has its own seed (a generator per image), so its
result does not depend on which jobs it was batched with beyond floating-point rounding.
A canceled job that has not started leaves its batch; when every job of a running batch is
canceled, the pipeline stops at the next step.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from reelforge.providers.base import Capability, GenerationRequest

__all__ = ["BatchItem", "BatchKey", "BatchResult", "Batcher", "RunBatch"]


class BatchKey(NamedTuple):
    model: str
    capability: Capability
    width: int
    height: int
    steps: int
    guidance_scale: float | None
    strength: float | None


@dataclass(slots=True)
class BatchItem:
    request_id: str
    request: GenerationRequest
    seed: int
    done: asyncio.Future[BatchResult]
    progress: float = 0.0
    canceled: bool = False
    started: bool = False


@dataclass(frozen=True, slots=True)
class BatchResult:
    image: bytes
    batch_id: int
    batch_size: int
    seconds: float
    device: str


class Interrupted(Exception):
    """Every job of the running batch was canceled: the pipeline stops at the next step."""


RunBatch = Callable[[BatchKey, list[BatchItem], int], list[BatchResult]]
"""Runs one batch in the calling thread: ``(key, items, batch id)`` → a result per item."""


@dataclass(slots=True)
class _Pending:
    items: list[BatchItem] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)


class Batcher:
    def __init__(self, run_batch: RunBatch, *, batch_size: int, window_s: float) -> None:
        self._run_batch = run_batch
        self._batch_size = batch_size
        self._window_s = window_s
        self._pending: dict[BatchKey, _Pending] = {}
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._batch_ids = itertools.count(1)

    def add(self, key: BatchKey, item: BatchItem) -> None:
        self._pending.setdefault(key, _Pending()).items.append(item)
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="diffusers-batches")

    def cancel(self, item: BatchItem) -> None:
        item.canceled = True
        if not item.started and not item.done.done():
            for pending in self._pending.values():
                if item in pending.items:
                    pending.items.remove(item)
            item.done.cancel()

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        for pending in self._pending.values():
            for item in pending.items:
                item.done.cancel()
        self._pending.clear()

    async def _work(self) -> None:
        while True:
            self._drop_empty()
            if not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            key, pending = min(self._pending.items(), key=lambda kv: kv[1].since)
            wait = pending.since + self._window_s - time.monotonic()
            if wait > 0 and len(pending.items) < self._batch_size:
                await asyncio.sleep(wait)
            batch = pending.items[: self._batch_size]
            del pending.items[: self._batch_size]
            pending.since = time.monotonic()
            if batch:
                await self._run(key, batch)

    async def _run(self, key: BatchKey, batch: list[BatchItem]) -> None:
        for item in batch:
            item.started = True
        try:
            results = await asyncio.to_thread(self._run_batch, key, batch, next(self._batch_ids))
        except Interrupted:
            for item in batch:
                item.done.cancel()
            return
        except Exception as exc:  # the pipeline's failure is every job's failure
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        for item, result in zip(batch, results, strict=True):
            if item.done.done():
                continue
            if item.canceled:
                item.done.cancel()
            else:
                item.done.set_result(result)

    def _drop_empty(self) -> None:
        for key in [k for k, p in self._pending.items() if not p.items]:
            del self._pending[key]
