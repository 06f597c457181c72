"""The probe gate: slots, a memory budget, first come first served, cancellation. Behaviour
only (who is admitted when), driven step by step on the event loop; nothing is timed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from reelforge.media.probe_gate import ProbeGate


class Holder:
    """A task that holds the gate with ``weight`` until released."""

    def __init__(self, gate: ProbeGate, weight: int, admitted: list[str], name: str) -> None:
        self.release = asyncio.Event()

        async def hold() -> None:
            async with gate.admit(weight):
                admitted.append(name)
                await self.release.wait()

        self.task = asyncio.create_task(hold())


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool], step: Callable[[], Awaitable[None]]) -> None:
    for _ in range(100):
        if condition():
            return
        await step()
    raise AssertionError("the condition never held")


async def test_slots_bound_how_many_run_at_once() -> None:
    gate = ProbeGate(slots=2, memory_bytes=1000)
    admitted: list[str] = []
    holders = [Holder(gate, 10, admitted, name) for name in "abc"]
    await settle()
    assert admitted == ["a", "b"]
    assert (gate.running, gate.waiting) == (2, 1)
    holders[0].release.set()
    await settle()
    assert admitted == ["a", "b", "c"]
    for holder in holders:
        holder.release.set()
    await asyncio.gather(*(h.task for h in holders))
    assert (gate.running, gate.waiting) == (0, 0)


async def test_memory_bounds_what_runs_together() -> None:
    gate = ProbeGate(slots=4, memory_bytes=100)
    admitted: list[str] = []
    big = Holder(gate, 60, admitted, "big")
    await settle()
    second = Holder(gate, 60, admitted, "second")  # 120 > 100: waits though slots are free
    await settle()
    assert admitted == ["big"]
    big.release.set()
    await settle()
    assert admitted == ["big", "second"]
    second.release.set()
    await asyncio.gather(big.task, second.task)


async def test_first_come_first_served_so_a_large_probe_is_not_starved() -> None:
    gate = ProbeGate(slots=4, memory_bytes=100)
    admitted: list[str] = []
    small = Holder(gate, 50, admitted, "small")
    await settle()
    large = Holder(gate, 90, admitted, "large")
    await settle()
    later = Holder(gate, 20, admitted, "later")  # would fit now, but "large" came first
    await settle()
    assert admitted == ["small"]
    small.release.set()
    await settle()
    assert admitted == ["small", "large"]
    large.release.set()
    await settle()
    assert admitted == ["small", "large", "later"]
    later.release.set()
    await asyncio.gather(small.task, large.task, later.task)


async def test_a_probe_over_the_whole_budget_runs_alone() -> None:
    gate = ProbeGate(slots=4, memory_bytes=100)
    admitted: list[str] = []
    huge = Holder(gate, 10_000, admitted, "huge")
    await settle()
    other = Holder(gate, 1, admitted, "other")
    await settle()
    assert admitted == ["huge"]
    huge.release.set()
    await until(lambda: admitted == ["huge", "other"], settle)
    other.release.set()
    await asyncio.gather(huge.task, other.task)


async def test_a_cancelled_waiter_leaves_the_queue_and_frees_its_turn() -> None:
    gate = ProbeGate(slots=1, memory_bytes=100)
    admitted: list[str] = []
    first = Holder(gate, 10, admitted, "first")
    await settle()
    cancelled = Holder(gate, 10, admitted, "cancelled")
    last = Holder(gate, 10, admitted, "last")
    await settle()
    assert gate.waiting == 2
    cancelled.task.cancel()
    await settle()
    assert gate.waiting == 1
    first.release.set()
    await settle()
    assert admitted == ["first", "last"]
    last.release.set()
    await asyncio.gather(first.task, last.task)
    with pytest.raises(asyncio.CancelledError):
        await cancelled.task
    assert (gate.running, gate.waiting) == (0, 0)


def test_a_gate_needs_a_slot_and_a_budget() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ProbeGate(slots=0, memory_bytes=1)
