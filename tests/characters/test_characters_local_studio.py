"""Without a Character Library address, images come from the default provider (the offline local
studio): the 360° set is one job per view, each made from the chosen reference image, the figure
turned for real (no two views share a silhouette)."""

from __future__ import annotations

import io
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from characters.characters_support import Workspace, local_studio_settings, open_workspace
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer
from reelforge.features.characters.config import DEFAULT_ANGLES

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


@pytest.fixture
async def ws(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> AsyncIterator[Workspace]:
    settings = local_studio_settings(tmp_path / "data", emulator_server.base_url)
    async with open_workspace(settings) as workspace:
        yield workspace


async def _pixels(ws: Workspace, url: str) -> Image.Image:
    response = await ws.http.get(url)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def _silhouette(image: Image.Image) -> npt.NDArray[np.bool_]:
    """The figure's pixels: what differs from the view's plain backdrop, above its caption."""
    pixels = np.asarray(image, np.int16)[: round(image.height * 0.9)]
    backdrop = pixels[4, 4]
    mask: npt.NDArray[np.bool_] = np.abs(pixels - backdrop).sum(axis=-1) > 30
    return mask


async def test_reference_and_a_conditioned_360_set_from_the_local_studio(
    ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    made = await ws.http.post(f"/v1/characters/{character['id']}/generate-initial-image")
    assert made.status_code == 201, made.text
    [reference] = made.json()["images"]
    assert reference["provider"] == "local"
    assert reference["sourceUrl"] is None
    assert (await _pixels(ws, reference["url"])).size == (720, 720)

    response = await ws.http.post(
        f"/v1/characters/{character['id']}/generate-360-set",
        json={"referenceImageId": reference["id"]},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    views = body["images"]
    assert [view["metrics"]["angle"] for view in views] == list(DEFAULT_ANGLES)
    assert body["failed"] == []
    # One job per view, each image→image from the reference (its bytes went in).
    jobs = {view["metrics"]["jobId"] for view in views}
    assert len(jobs) == len(DEFAULT_ANGLES)
    engine = ws.harness.engine
    job = await engine.get_job(views[0]["metrics"]["jobId"])
    assert job.capability == "image_to_image"
    run = await engine.get_run(body["runId"])
    assert run.status == "succeeded"
    assert len(run.jobs) == len(DEFAULT_ANGLES)
    front = await _pixels(ws, views[0]["url"])
    assert front.size == (720, 720)
    assert front.getextrema() != ((0, 0), (0, 0), (0, 0))
    # Each view turns the figure: eight different silhouettes.
    masks = [_silhouette(await _pixels(ws, view["url"])) for view in views]
    for (i, a), (j, b) in itertools.combinations(enumerate(masks), 2):
        iou = float((a & b).sum() / (a | b).sum())
        assert iou < 0.95, (DEFAULT_ANGLES[i], DEFAULT_ANGLES[j], iou)
    stored = await ws.harness.services.catalog.jobs.get(job.id)
    assert stored.provider_metadata is not None
    assert stored.provider_metadata["extra"]["view"]["name"] == DEFAULT_ANGLES[0]
    # Nothing hosted was asked.
    assert (await emulator.ledger())["calls"] == []


async def test_a_run_that_outlives_its_request_is_listed_once_it_ends(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = local_studio_settings(tmp_path / "data", emulator_server.base_url, wait_s=0)
    async with open_workspace(settings) as ws:
        character = await ws.create()
        response = await ws.http.post(
            f"/v1/characters/{character['id']}/generate-scene-image",
            json={"sceneContext": "a rowing boat in the fog"},
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["pending"] is True
        assert body["images"] == []
        run = await ws.harness.engine.wait_for_run(body["runId"], 60)
        assert run.done
        # The run is over: its finish step recorded the image, the listing shows it.
        [image] = await ws.images(character["id"])
        assert image["kind"] == "scene"
        assert image["prompt"].endswith("Scene: a rowing boat in the fog")
        # Listing again shows it once.
        assert len(await ws.images(character["id"])) == 1
