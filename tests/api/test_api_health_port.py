"""``server.health_port``: /healthz answered on a thread of its own, over real sockets, whatever
the event loop is doing; and 503 once the loop has stopped beating."""

from __future__ import annotations

import queue
import threading

import httpx

from reelforge import __version__
from reelforge.api.health import HealthListener


def _get(url: str, answers: queue.Queue[httpx.Response]) -> None:
    answers.put(httpx.get(url, timeout=30, trust_env=False))


async def test_it_answers_while_the_event_loop_is_blocked() -> None:
    listener = HealthListener("127.0.0.1", 0, version=__version__, stall_s=600)
    async with listener.beating():
        answers: queue.Queue[httpx.Response] = queue.Queue()
        url = f"http://127.0.0.1:{listener.port}/healthz"
        probe = threading.Thread(target=_get, args=(url, answers))
        probe.start()
        # Blocks the event loop itself until the answer is in: nothing on it could give one.
        answer = answers.get(timeout=30)
        probe.join()
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": __version__}
    assert answer.headers["Cache-Control"] == "no-store"


async def test_a_loop_that_stopped_beating_is_reported_stalled() -> None:
    listener = HealthListener("127.0.0.1", 0, version=__version__, stall_s=0.0)
    listener.start()  # and no beat: the event loop is taken for stuck at once
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.get(f"http://127.0.0.1:{listener.port}/healthz")
    finally:
        listener.stop()
    assert answer.status_code == 503
    assert answer.json()["status"] == "stalled"


async def test_only_healthz_is_served() -> None:
    listener = HealthListener("127.0.0.1", 0, version=__version__, stall_s=600)
    async with listener.beating(), httpx.AsyncClient(trust_env=False) as client:
        base = f"http://127.0.0.1:{listener.port}"
        assert (await client.get(f"{base}/healthz?probe=1")).status_code == 200
        head = await client.head(f"{base}/healthz")
        assert head.status_code == 200
        assert head.content == b""
        assert (await client.get(f"{base}/v1/runs")).status_code == 404
        assert (await client.post(f"{base}/healthz")).status_code == 404
        assert (await client.delete(f"{base}/healthz")).status_code == 404
