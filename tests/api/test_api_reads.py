"""Plain reads under load, over real HTTP on loopback, on SQLite and on PostgreSQL: a run's
overview and a character's images cost a fixed number of statements however much they show,
and a request that cannot get a catalog connection in time is told the catalog is busy (503,
Retry-After), not that it failed (500)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from fixtures.database import blank_database_url, database_backend, database_url
from fixtures.server import serve_app
from fixtures.services import local_settings
from reelforge.api.app import create_app
from reelforge.catalog import Catalog
from reelforge.catalog.checkout import checkout_turn
from reelforge.catalog.repositories import NewJob
from reelforge.features.characters.repository import CharacterRepository
from reelforge.services import Services, open_services

__all__ = ["blank_database_url", "database_backend", "database_url"]

SHA = "a" * 64


@pytest.fixture
async def api(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    settings = local_settings(
        tmp_path, database_url=database_url, catalog={"pool_size": 1, "pool_timeout_s": 0.2}
    )
    async with (
        open_services(settings, environ={}) as services,
        serve_app(create_app(services)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        yield client, services


@contextmanager
def counted_statements(catalog: Catalog) -> Iterator[list[str]]:
    """Every statement the catalog sends meanwhile."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(catalog.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(catalog.engine.sync_engine, "before_cursor_execute", count)


async def _asset(catalog: Catalog, key: str, job_id: str | None = None) -> str:
    record = await catalog.assets.add(
        key=key,
        content_type="image/png",
        kind="image",
        size_bytes=10,
        sha256=SHA,
        source="provider",
        width=64,
        height=64,
        job_id=job_id,
    )
    return record.id


async def test_a_run_overview_costs_two_statements_however_many_jobs(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = api
    catalog = services.catalog
    run = await catalog.runs.create(feature="keyframes", input={})
    jobs = await catalog.jobs.create_many(
        [NewJob("local", "studio", "image", {"label": f"frame {i}"}) for i in range(5)],
        run_id=run.id,
    )
    outputs = {
        job.id: [await _asset(catalog, f"{job.id}/{n}.png", job.id) for n in range(2)]
        for job in jobs
    }
    await catalog.run_events.append(run.id, "job_pending", {}, job_id=jobs[1].id)
    await catalog.run_events.append(run.id, "job_started", {}, job_id=jobs[2].id)

    with counted_statements(catalog) as statements:
        response = await client.get(f"/v1/runs/{run.id}")

    assert response.status_code == 200
    body = response.json()
    assert [job["id"] for job in body["jobs"]] == [job.id for job in jobs]
    assert [job["asset_ids"] for job in body["jobs"]] == [outputs[job.id] for job in jobs]
    assert body["pending"] == [jobs[1].id]
    assert [job["label"] for job in body["jobs"]] == [f"frame {i}" for i in range(5)]
    assert len(statements) == 2, statements


async def test_a_missing_run_is_still_not_found(api: tuple[httpx.AsyncClient, Services]) -> None:
    client, _ = api
    response = await client.get("/v1/runs/no-such-run")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_a_characters_images_cost_two_statements_however_many(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = api
    characters = CharacterRepository.on(services.catalog)
    character = await characters.create(name="Kai")
    asset_ids = [await _asset(services.catalog, f"kai/{n}.png") for n in range(4)]
    for n, asset_id in enumerate(asset_ids):
        await characters.add_image(
            character_id=character.id,
            asset_id=asset_id,
            kind="reference" if n == 0 else "portfolioItem",
            provider="local",
            prompt=f"angle {n}",
        )

    with counted_statements(services.catalog) as statements:
        response = await client.get(f"/v1/characters/{character.id}/images")

    assert response.status_code == 200
    images = response.json()["images"]
    assert [image["mediaId"] for image in images] == list(reversed(asset_ids))
    assert all(image["media"]["url"].endswith(".png") for image in images)
    assert [image["width"] for image in images] == [64] * 4
    assert len(statements) == 2, statements
    missing = await client.get("/v1/characters/nobody/images")
    assert missing.status_code == 404


async def test_no_connection_in_time_is_catalog_busy_not_a_500(
    api: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = api
    run = await services.catalog.runs.create(feature="keyframes", input={})

    # The pool's one connection is another transaction's: this request waits its turn, then
    # is told to come back; health does not wait.
    async with checkout_turn(services.catalog.sessions):
        busy = await client.get(f"/v1/runs/{run.id}")
        health = await client.get("/healthz")

    assert busy.status_code == 503, busy.text
    assert busy.json()["error"]["code"] == "CATALOG_BUSY"
    assert busy.headers["Retry-After"] == "1"
    assert health.status_code == 200
    assert (await client.get(f"/v1/runs/{run.id}")).status_code == 200


async def test_a_write_while_reads_hold_every_connection(
    api: tuple[httpx.AsyncClient, Services], database_backend: str
) -> None:
    client, services = api
    async with checkout_turn(services.catalog.sessions):
        answer = await client.post("/v1/characters", json={"name": "Mira"})
    listed = (await client.get("/v1/characters")).json()["characters"]
    if database_backend == "sqlite":
        # SQLite's writers already go one at a time, and the one writing has a connection of
        # its own: it never waits behind reads with the write lock in hand.
        assert answer.status_code == 201, answer.text
        assert [character["name"] for character in listed] == ["Mira"]
    else:
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "CATALOG_BUSY"
        assert listed == []
