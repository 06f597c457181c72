from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fixtures.catalog_data import add_asset, add_job
from reelforge.catalog import Catalog, create_engine
from reelforge.errors import Conflict, InvalidInput, NotFound


async def test_add_and_get(catalog: Catalog) -> None:
    added = await add_asset(
        catalog,
        key="media/clip.mp4",
        content_type="video/mp4",
        kind="video",
        duration_s=2.5,
        codec="h264",
        fps=24.0,
        frame_count=60,
        thumbnail_key="media/clip.poster.jpg",
        source="url",
        source_url="https://example.com/clip.mp4",
        project_id="p1",
    )
    assert len(added.id) == 32
    assert added.created_at.tzinfo is UTC
    assert await catalog.assets.get(added.id) == added
    assert await catalog.assets.get_by_key("media/clip.mp4") == added


async def test_duplicate_key_is_a_conflict(catalog: Catalog) -> None:
    await add_asset(catalog, key="media/a.png")
    with pytest.raises(Conflict) as caught:
        await add_asset(catalog, key="media/a.png", id="second")
    assert caught.value.details == {"key": "media/a.png", "id": "second"}
    assert len(await catalog.assets.list()) == 1


async def test_missing_assets_are_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        await catalog.assets.get("nope")
    with pytest.raises(NotFound):
        await catalog.assets.get_by_key("media/nope.png")
    with pytest.raises(NotFound):
        await catalog.assets.delete("nope")
    with pytest.raises(NotFound):
        await catalog.assets.set_thumbnail("nope", "t.jpg")


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "audio"},
        {"source": "ftp"},
        {"size_bytes": -1},
        {"sha256": "ABC"},
        {"key": ""},
    ],
)
async def test_invalid_fields_are_rejected(catalog: Catalog, overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        await add_asset(catalog, **overrides)


async def test_list_newest_first_with_filters_and_paging(database_url: str) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    ticks = iter(range(100))

    def clock() -> datetime:
        return start + timedelta(seconds=next(ticks))

    async with Catalog(create_engine(database_url), clock=clock) as catalog:
        first = await add_asset(catalog, project_id="p1")
        video = await add_asset(catalog, kind="video", content_type="video/mp4", project_id="p2")
        third = await add_asset(catalog, project_id="p1")

        assert [a.id for a in await catalog.assets.list()] == [third.id, video.id, first.id]
        assert [a.id for a in await catalog.assets.list(limit=1, offset=1)] == [video.id]
        assert [a.id for a in await catalog.assets.list(kind="video")] == [video.id]
        assert [a.id for a in await catalog.assets.list(project_id="p1")] == [third.id, first.id]
        assert first.created_at == start
        with pytest.raises(InvalidInput):
            await catalog.assets.list(limit=0)


async def test_set_thumbnail(catalog: Catalog) -> None:
    asset = await add_asset(catalog)
    updated = await catalog.assets.set_thumbnail(asset.id, "media/thumb.jpg")
    assert updated.thumbnail_key == "media/thumb.jpg"
    assert (await catalog.assets.get(asset.id)).thumbnail_key == "media/thumb.jpg"


async def test_delete_unlinks_from_jobs_but_keeps_them(catalog: Catalog) -> None:
    asset, kept = await add_asset(catalog), await add_asset(catalog)
    job = await add_job(catalog)
    await catalog.jobs.attach_assets(job.id, [asset.id, kept.id])
    await catalog.assets.delete(asset.id)
    with pytest.raises(NotFound):
        await catalog.assets.get(asset.id)
    assert (await catalog.jobs.get(job.id)).asset_ids == (kept.id,)
