"""A segment URL, once handed out, serves the same bytes for good: a later run of the same
project, episode, scene and shot (the issue: ``segment_{scene}_{shot}.mp4`` was overwritten)
gets its own run folder, and the first run's file is unchanged, fetched over HTTP."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from segments.segments_support import frame_images, request_body, segments_harness


async def test_a_later_run_of_the_same_shot_never_changes_an_earlier_url(tmp_path: Path) -> None:
    async with (
        segments_harness(tmp_path, webhooks=False) as harness,
        httpx.AsyncClient(base_url=harness.base_url, timeout=60) as http,
    ):
        urls = await frame_images(harness.services, 2)
        first = await http.post("/v1/segments", json=request_body([(1, 1)], urls[:1]))
        assert first.status_code == 200, first.text
        (earlier,) = first.json()["video_segments"]
        before = hashlib.sha256((await http.get(earlier["video_url"])).content).hexdigest()
        # The same shot again, from another frame and for longer: other bytes.
        second = await http.post(
            "/v1/segments", json=request_body([(1, 1)], urls[1:], durations=[2.5])
        )
        assert second.status_code == 200, second.text
        (later,) = second.json()["video_segments"]
        after = await http.get(earlier["video_url"])
        newest = await http.get(later["video_url"])
    assert after.status_code == 200
    assert hashlib.sha256(after.content).hexdigest() == before
    assert later["video_url"] != earlier["video_url"]
    assert hashlib.sha256(newest.content).hexdigest() != before
    for url in (earlier["video_url"], later["video_url"]):
        assert url.rsplit("/", 1)[1] == "segment_1_1.mp4"
