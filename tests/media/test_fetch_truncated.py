"""A download cut short: the connection closes before the ``Content-Length`` it announced.

That is a transient fault (FETCH_FAILED, retryable) that says it was truncated and by how much,
where a complete answer with a short body is the file's own fault (CORRUPT_MEDIA). Both leave
nothing stored. A real loopback server answers; the downloads are provider outputs, which keep
their precise errors (a caller's URL to an internal address gets one answer for every failure:
``test_internal_answers.py``).
"""

from __future__ import annotations

from pathlib import Path

from media.media_support import MediaServer, SampleMedia, assert_refused
from reelforge.media.ingest import Ingestor


async def test_a_body_cut_short_of_its_content_length_is_a_retryable_truncation(
    ingestor: Ingestor, media_server: MediaServer, samples: SampleMedia, tmp_path: Path
) -> None:
    half = len(samples.png) // 2
    url = media_server.add(
        "/cut.png",
        body=samples.png[:half],
        headers={"Content-Length": str(len(samples.png))},
        send_length=False,
    )
    error = await assert_refused(
        ingestor.ingest_url(url, source="provider"), "FETCH_FAILED", tmp_path=tmp_path
    )
    assert error.retryable
    assert error.details == {
        "host": "127.0.0.1",
        "truncated": True,
        "received": half,
        "expected": len(samples.png),
    }


async def test_a_complete_answer_with_half_the_file_is_corrupt_media(
    ingestor: Ingestor, media_server: MediaServer, samples: SampleMedia, tmp_path: Path
) -> None:
    url = media_server.add("/short.png", body=samples.png[: len(samples.png) // 2])
    error = await assert_refused(
        ingestor.ingest_url(url, source="provider"), "CORRUPT_MEDIA", tmp_path=tmp_path
    )
    assert not error.retryable
