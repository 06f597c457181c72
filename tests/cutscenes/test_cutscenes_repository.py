"""The cutscenes tables on SQLite and PostgreSQL: stages, announcements, records, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fixtures import database as database_fixtures
from reelforge.catalog import Catalog
from reelforge.catalog.db import create_session_factory
from reelforge.catalog.models import new_id
from reelforge.errors import InvalidInput, NotFound
from reelforge.features.cutscenes.repository import (
    CutsceneRepository,
    EventDraft,
    MediaDraft,
    MediaUpdate,
)

database_backend = database_fixtures.database_backend
blank_database_url = database_fixtures.blank_database_url
database_url = database_fixtures.database_url
catalog = database_fixtures.catalog


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _event(kind: str, media_id: str | None, key: str) -> EventDraft:
    return EventDraft(kind=kind, key=key, media_id=media_id, payload={"asset_type": "image"})  # type: ignore[arg-type]


async def _create(repository: CutsceneRepository) -> tuple[str, str]:
    cutscene_id, image_id = new_id(), new_id()
    await repository.create(
        cutscene_id=cutscene_id,
        kind="cutscene",
        campaign_id="c",
        session_id="s",
        turn_number=3,
        cutscene_type="plot_twist",
        request={"characters": ["Ana"]},
        plan={"name": "still_only", "still": {}, "clip": None},
        clip_skipped_reason="budget",
        media=[MediaDraft(image_id, "image", "the letter", None)],
        events=[_event("pending", image_id, f"pending:{image_id}")],
        still_run_id="r" * 32,
    )
    return cutscene_id, image_id


async def test_a_cutscene_starts_at_its_still_and_moves_through_its_stages(
    catalog: Catalog,
) -> None:
    clock = Clock()
    repository = CutsceneRepository(create_session_factory(catalog.engine), clock=clock)
    cutscene_id, _ = await _create(repository)
    created = await repository.get(cutscene_id)
    assert (created.stage, created.still_run_id, created.clip_run_id) == ("still", "r" * 32, None)

    clock.now += timedelta(seconds=5)
    clip = await repository.set_stage(cutscene_id, "clip", clip_run_id="c" * 32)
    assert (clip.stage, clip.still_run_id, clip.clip_run_id) == ("clip", "r" * 32, "c" * 32)
    assert clip.updated_at == clock.now
    done = await repository.set_stage(cutscene_id, "done", clip_skipped_reason="x" * 600)
    assert (done.stage, done.clip_run_id) == ("done", "c" * 32)
    assert done.clip_skipped_reason == "x" * 500
    with pytest.raises(NotFound):
        await repository.set_stage(new_id(), "done")


async def test_records_change_with_their_announcement_once(catalog: Catalog) -> None:
    repository = CutsceneRepository.on(catalog)
    cutscene_id, image_id = await _create(repository)
    ready = _event("ready", image_id, f"ready:{image_id}")
    for _ in range(2):
        record = await repository.update_media(
            image_id, MediaUpdate("complete", cost_usd=Decimal("0.025")), ready
        )
    assert (record.status, record.cost_usd) == ("complete", Decimal("0.025"))
    events = await repository.events_after("c", "s")
    assert [(e.kind, e.media_id) for e in events] == [("pending", image_id), ("ready", image_id)]
    assert await repository.events_after("c", "s", events[0].id) == events[1:]
    assert await repository.events_after("c", "other") == []
    assert await repository.last_event_id("c", "s") == events[-1].id
    assert await repository.spent("c", "s") == (Decimal("0.025"), 1)
    assert await repository.spent("c", None) == (Decimal("0.025"), 1)
    assert [c.id for c in await repository.list_for_session("c", "s")] == [cutscene_id]

    with pytest.raises(InvalidInput):
        await repository.update_media(image_id, MediaUpdate("finished"))  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await repository.get_media(new_id())


async def test_settings_are_kept_per_campaign(catalog: Catalog) -> None:
    repository = CutsceneRepository.on(catalog)
    assert await repository.get_settings("c") is None
    await repository.put_settings("c", {"enabled": True})
    await repository.put_settings("c", {"enabled": False, "quality": "draft"})
    assert await repository.get_settings("c") == {"enabled": False, "quality": "draft"}
    assert await repository.get_settings("d") is None
