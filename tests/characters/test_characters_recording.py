"""A character run is recorded by the feature's finish step when it ends: with no one listing
the images, whatever the number of other character runs; a finish step run twice records
nothing twice; the generic run face (``POST /v1/runs``) starts and answers a character run.

The local studio makes the images (offline, fast); the other runs are seeded as rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from characters.characters_support import Workspace, local_studio_settings, open_workspace
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.catalog import Catalog
from reelforge.catalog.models import Run
from reelforge.emulator import EmulatorServer
from reelforge.features.characters.repository import CharacterRepository

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

#: More than the 50 newest character runs an earlier release looked through when listing.
OTHER_RUNS = 51


@pytest.fixture
async def ws(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> AsyncIterator[Workspace]:
    # wait_s=0: no request waits for its images.
    settings = local_studio_settings(tmp_path / "data", emulator_server.base_url, wait_s=0)
    async with open_workspace(settings) as workspace:
        yield workspace


async def _other_character_runs(catalog: Catalog, count: int) -> None:
    """Finished character runs of other characters, never recorded."""
    for index in range(count):
        await catalog.runs.create(
            feature="characters",
            input={"character_id": f"other-{index}", "kind": "scene", "provider": "local"},
            status="succeeded",
        )


async def test_a_run_is_recorded_when_it_ends_with_no_one_listing_its_images(
    ws: Workspace,
) -> None:
    catalog = ws.harness.services.catalog
    engine = ws.harness.engine
    await _other_character_runs(catalog, OTHER_RUNS)
    character = await ws.create()
    response = await ws.http.post(
        f"/v1/characters/{character['id']}/generate-scene-image",
        json={"sceneContext": "a lighthouse in a gale"},
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["runId"]
    run = await engine.wait_for_run(run_id, 60)
    assert run.done

    # Nobody has listed the images: the finish step made the row when the run ended.
    repository = CharacterRepository.on(catalog)
    [image] = await repository.list_images(character["id"])
    assert (image.run_id, image.kind) == (run_id, "scene")
    assert image.prompt.endswith("Scene: a lighthouse in a gale")
    assert run.response == {"images": [image.id], "failed": []}

    # Many more character runs since: the listing shows the image all the same.
    await _other_character_runs(catalog, OTHER_RUNS)
    assert [listed["id"] for listed in await ws.images(character["id"])] == [image.id]

    # The finish step run once more (as after a crash) records nothing twice.
    again = await engine.finish_again(run_id)
    assert again.response == run.response
    assert [i.id for i in await repository.list_images(character["id"])] == [image.id]


async def test_the_generic_run_face_starts_and_answers_a_character_run(ws: Workspace) -> None:
    assert "characters" in (await ws.http.get("/v1/features")).json()["features"]
    character = await ws.create()
    started = await ws.http.post(
        "/v1/runs",
        params={"wait_s": 60},
        json={
            "feature": "characters",
            "input": {"characterId": character["id"], "kind": "reference", "prompt": "Mara"},
        },
    )
    assert started.status_code == 200, started.text
    body = started.json()
    assert (body["done"], body["status"]) == (True, "succeeded")
    [image] = await ws.images(character["id"])
    assert (image["kind"], image["prompt"]) == ("reference", "Mara")
    assert body["response"] == {"images": [image["id"]], "failed": []}

    refused = await ws.http.post(
        "/v1/runs", json={"feature": "characters", "input": {"kind": "portrait"}}
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "INVALID_INPUT"


async def test_runs_ended_under_the_previous_release_are_finished_after_the_upgrade(
    ws: Workspace,
) -> None:
    catalog = ws.harness.services.catalog
    engine = ws.harness.engine
    character = await ws.create()
    response = await ws.http.post(
        f"/v1/characters/{character['id']}/generate-scene-image",
        json={"sceneContext": "a harbour at dawn"},
    )
    run_id = response.json()["runId"]
    assert (await engine.wait_for_run(run_id, 60)).done
    repository = CharacterRepository.on(catalog)
    [image] = await repository.list_images(character["id"])

    # As the previous release left it: the run ended, its images never listed, so neither its
    # rows nor its response were written.
    await repository.delete_image(image.id)
    async with catalog.sessions.begin() as session:
        await session.execute(sa.update(Run).where(Run.id == run_id).values(response=sa.null()))
    assert await repository.list_images(character["id"]) == []

    assert await engine.finish_ended(["characters"]) == [run_id]
    [recorded] = await repository.list_images(character["id"])
    assert (recorded.run_id, recorded.kind, recorded.asset_id) == (run_id, "scene", image.asset_id)
    assert (await engine.get_run(run_id)).response == {"images": [recorded.id], "failed": []}
    # Finished once: a second pass finds nothing left to finish.
    assert await engine.finish_ended(["characters"]) == []
