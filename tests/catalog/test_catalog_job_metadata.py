"""The provider's metadata kept on the job (``jobs.provider_metadata``), and revision 0008,
which copies it from the history of jobs that succeeded before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures.catalog_data import add_job
from reelforge.catalog import Catalog, create_engine, upgrade_database
from reelforge.catalog.models import JsonDocument, UTCDateTime
from reelforge.errors import InvalidInput

METADATA = {
    "model": "fal-ai/flux/schnell",
    "seed": 42,
    "steps": 4,
    "inference_time_ms": 812,
    "extra": {"library_db_id": "lib-7", "images": [{"image_id": "i1"}]},
}


async def test_a_succeeded_job_keeps_its_provider_metadata(catalog: Catalog) -> None:
    run = await catalog.runs.create(feature="keyframes", input={})
    job = await add_job(catalog, run_id=run.id)
    other = await add_job(catalog, run_id=run.id)
    assert job.provider_metadata is None
    await catalog.jobs.transition(job.id, "running", provider_request_id="r1")
    done = await catalog.jobs.transition(
        job.id, "succeeded", payload={"result": METADATA}, provider_metadata=METADATA
    )
    assert done.provider_metadata == METADATA
    assert (await catalog.jobs.get(job.id)).provider_metadata == METADATA
    listed = {j.id: j.provider_metadata for j in await catalog.jobs.list_for_run(run.id)}
    assert listed == {job.id: METADATA, other.id: None}
    assert [j.provider_metadata for j in await catalog.jobs.list(status="succeeded")] == [METADATA]
    # A repeated final transition (a late webhook) changes nothing.
    again = await catalog.jobs.transition(job.id, "succeeded", provider_metadata={"model": "x"})
    assert again.provider_metadata == METADATA


async def test_metadata_that_is_not_json_is_refused_and_nothing_changes(catalog: Catalog) -> None:
    job = await add_job(catalog)
    await catalog.jobs.transition(job.id, "running")
    with pytest.raises(InvalidInput) as caught:
        await catalog.jobs.transition(job.id, "succeeded", provider_metadata={"seed": float("nan")})
    assert caught.value.details == {"field": "provider_metadata"}
    unchanged = await catalog.jobs.get(job.id)
    assert (unchanged.status, unchanged.provider_metadata) == ("running", None)


_JOBS = sa.table(
    "jobs",
    sa.column("id", sa.String),
    sa.column("provider", sa.String),
    sa.column("model", sa.String),
    sa.column("capability", sa.String),
    sa.column("request", JsonDocument),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
_EVENTS = sa.table(
    "job_events",
    sa.column("job_id", sa.String),
    sa.column("at", UTCDateTime()),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("payload", JsonDocument),
)


def _job(job_id: str, status: str, at: datetime) -> dict[str, Any]:
    return {
        "id": job_id,
        "provider": "fal",
        "model": "fal-ai/flux/schnell",
        "capability": "text_to_image",
        "request": {"prompt": "p"},
        "status": status,
        "attempts": 1,
        "created_at": at,
        "updated_at": at,
    }


def _event(job_id: str, status: str, payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"job_id": job_id, "at": at, "kind": "status", "status": status, "payload": payload}


async def test_revision_0008_copies_the_metadata_of_jobs_that_succeeded_before_it(
    blank_database_url: str,
) -> None:
    await upgrade_database(blank_database_url, "0007")
    at = datetime(2030, 1, 1, tzinfo=UTC)
    succeeded = {"from": "running", "detail": {"asset_ids": ["a1"], "result": METADATA}}
    engine = create_engine(blank_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(_JOBS),
                [
                    _job("done", "succeeded", at),
                    _job("bare", "succeeded", at),
                    _job("failed", "failed", at),
                    _job("running", "running", at),
                ],
            )
            await connection.execute(
                sa.insert(_EVENTS),
                [
                    _event("done", "queued", {}, at),
                    _event("done", "running", {"detail": {"attempt": 1}}, at),
                    _event("done", "succeeded", succeeded, at + timedelta(seconds=1)),
                    # Succeeded without a result recorded (a job ended by hand, say).
                    _event("bare", "succeeded", {"from": "running"}, at),
                    _event("failed", "failed", {"detail": {"result": METADATA}}, at),
                    _event("running", "running", {"detail": {"result": METADATA}}, at),
                ],
            )
    finally:
        await engine.dispose()
    await upgrade_database(blank_database_url)
    async with Catalog.from_url(blank_database_url) as catalog:
        found = {
            job_id: (await catalog.jobs.get(job_id)).provider_metadata
            for job_id in ("done", "bare", "failed", "running")
        }
    assert found == {"done": METADATA, "bare": None, "failed": None, "running": None}
