"""How many probes decode at once, and how much memory their decoding may take together.

A probe decodes pixels: a 62 KB PNG can declare 8000x7999 of them (64 MB once decoded, 256 MB
for RGBA), so a burst of small uploads could take gigabytes. :class:`ProbeGate` admits a probe
when a slot is free (``slots``, for the CPU) and its estimated decode memory fits in what the
probes already admitted leave of ``memory_bytes``; a probe estimated above the whole budget
waits until it can run alone. Admission is first come, first served, so a large probe is not
starved by a stream of small ones.

asyncio has no weighted semaphore (nor does anyio: its ``CapacityLimiter`` counts tokens one at a
time), hence this small one. Release is synchronous, so it is safe in ``finally`` and under
cancellation.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["ProbeGate"]


class ProbeGate:
    """At most ``slots`` probes at once, within ``memory_bytes`` of estimated decode memory."""

    def __init__(self, slots: int, memory_bytes: int) -> None:
        if slots < 1 or memory_bytes < 1:
            raise ValueError("a probe gate needs at least one slot and one byte")
        self.slots = slots
        self.memory_bytes = memory_bytes
        self._running = 0
        self._used = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def share(self) -> int:
        """The weight of a probe whose memory is not estimated: an equal share of the budget."""
        return max(1, self.memory_bytes // self.slots)

    @property
    def running(self) -> int:
        """Probes admitted and not yet done."""
        return self._running

    @property
    def waiting(self) -> int:
        """Probes waiting to be admitted."""
        return len(self._waiters)

    @asynccontextmanager
    async def admit(self, weight: int) -> AsyncIterator[None]:
        """Hold a slot and ``weight`` bytes (at most the whole budget) while the block runs."""
        weight = min(max(weight, 1), self.memory_bytes)
        await self._acquire(weight)
        try:
            yield
        finally:
            self._release(weight)

    async def _acquire(self, weight: int) -> None:
        if not self._waiters and self._fits(weight):
            self._take(weight)
            return
        admitted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (weight, admitted)
        self._waiters.append(entry)
        try:
            await admitted
        except BaseException:
            if admitted.done() and not admitted.cancelled():
                self._release(weight)  # admitted, then cancelled before it could run
            else:
                self._waiters.remove(entry)
                self._admit_waiters()
            raise

    def _fits(self, weight: int) -> bool:
        return self._running < self.slots and self._used + weight <= self.memory_bytes

    def _take(self, weight: int) -> None:
        self._running += 1
        self._used += weight

    def _release(self, weight: int) -> None:
        self._running -= 1
        self._used -= weight
        self._admit_waiters()

    def _admit_waiters(self) -> None:
        while self._waiters and self._fits(self._waiters[0][0]):
            weight, admitted = self._waiters.popleft()
            if admitted.done():
                continue
            self._take(weight)
            admitted.set_result(None)
