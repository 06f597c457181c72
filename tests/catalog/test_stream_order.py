"""Streams read by growing id deliver every event exactly once, on SQLite and PostgreSQL.

PostgreSQL takes a row's id at insert, not at commit: an SSE client following a run (or a
campaign session's announcements) that read event 132 before 131 committed skipped 131 for good.
Here a writer's transaction holds its event uncommitted while a second writer appends to the
same stream and a reader polls; the reader must end with both, in order, and never skip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from reelforge.catalog import Catalog
from reelforge.catalog.db import WRITE_INTENT, create_session_factory
from reelforge.catalog.models import new_id
from reelforge.catalog.repositories import NewRunEvent
from reelforge.catalog.repositories.engine import add_run_event
from reelforge.features.cutscenes.repository import (
    CutsceneRepository,
    EventDraft,
    MediaDraft,
    add_media_event,
)
from reelforge.features.cutscenes.tables import CutsceneRow

# Long enough for an unblocked second writer to commit (it is not a timing assertion: a slow
# machine only makes the test pass for the wrong reason, never fail for the right one).
_CHANCE_S = 0.5


async def test_a_run_events_reader_never_skips_an_event_committed_late(catalog: Catalog) -> None:
    run = await catalog.runs.create(feature="keyframes", input={})
    sessions = create_session_factory(catalog.engine)
    at = datetime.now(UTC)
    opened, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with sessions.begin() as session:
            await session.connection(execution_options={WRITE_INTENT: True})
            await add_run_event(
                session,
                NewRunEvent("job_pending", {"n": 1}, key="k1"),
                run_id=run.id,
                job_id=None,
                at=at,
            )
            opened.set()
            await release.wait()

    async def second() -> None:
        await catalog.run_events.append(run.id, "job_pending", {"n": 2})

    async def read(after: int) -> list[int]:
        return [e.id for e in await catalog.run_events.after(run.id, after)]

    seen = await _interleave(first, second, read, opened, release)
    payloads = [e.payload for e in await catalog.run_events.after(run.id)]
    assert payloads == [{"n": 1}, {"n": 2}]
    assert seen == [e.id for e in await catalog.run_events.after(run.id)]


async def test_a_sessions_announcements_are_never_skipped(catalog: Catalog) -> None:
    repository = CutsceneRepository.on(catalog)
    cutscene_id, image_id = new_id(), new_id()
    await repository.create(
        cutscene_id=cutscene_id,
        kind="cutscene",
        campaign_id="c",
        session_id="s",
        turn_number=1,
        cutscene_type="plot_twist",
        request={},
        plan={"name": "still_only", "still": {}, "clip": None},
        clip_skipped_reason=None,
        media=[MediaDraft(image_id, "image", "the letter", None)],
        events=[],
        still_run_id="r" * 32,
    )
    sessions = create_session_factory(catalog.engine)
    opened, release = asyncio.Event(), asyncio.Event()

    def draft(n: int) -> EventDraft:
        return EventDraft(kind="pending", key=f"k{n}", media_id=image_id, payload={"n": n})

    async def first() -> None:
        async with sessions.begin() as session:
            await session.connection(execution_options={WRITE_INTENT: True})
            cutscene = await session.get(CutsceneRow, cutscene_id)
            assert cutscene is not None
            await add_media_event(session, cutscene, draft(1), datetime.now(UTC))
            opened.set()
            await release.wait()

    async def second() -> None:
        await repository.append_event(cutscene_id, draft(2))

    async def read(after: int) -> list[int]:
        return [e.id for e in await repository.events_after("c", "s", after)]

    seen = await _interleave(first, second, read, opened, release)
    events = await repository.events_after("c", "s")
    assert [e.payload for e in events] == [{"n": 1}, {"n": 2}]
    assert seen == [e.id for e in events]


async def _interleave(
    first: Callable[[], Coroutine[Any, Any, None]],
    second: Callable[[], Coroutine[Any, Any, None]],
    read: Callable[[int], Coroutine[Any, Any, list[int]]],
    opened: asyncio.Event,
    release: asyncio.Event,
) -> list[int]:
    """The first writer's transaction stays open while the second writes and a reader polls;
    then both commit and the reader polls again. What the reader saw, in order."""
    seen: list[int] = []
    held = asyncio.create_task(first())
    opening = asyncio.create_task(opened.wait())
    await asyncio.wait({held, opening}, return_when=asyncio.FIRST_COMPLETED)
    if held.done():
        held.result()  # the first writer failed: say why
    late = asyncio.create_task(second())
    await asyncio.sleep(_CHANCE_S)
    seen += await read(seen[-1] if seen else 0)
    release.set()
    await held
    await late
    seen += await read(seen[-1] if seen else 0)
    return seen
