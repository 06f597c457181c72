"""Measured continuity of cutscenes: a local-studio cutscene whose workspace character has a real
reference photo draws her from it, and the still (then the clip's poster frame) is measured
against that photo with dlib: ``identity``, ``quality_score`` and ``warnings`` on the media
records, kept in the catalog. A character whose reference shows no face is not measured; a
cutscene with no referenced character has none of these fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from characters.characters_support import MARA
from cutscenes.cutscenes_support import Api, open_api, wait_for_cutscene
from fixtures import emulator as emulator_fixtures
from fixtures.portraits import astronaut, face_analyzer, png_bytes
from reelforge.emulator import EmulatorServer
from reelforge.features.characters.repository import CharacterRepository
from reelforge.features.cutscenes.repository import CutsceneRepository

pytestmark = pytest.mark.faces

emulator_server = emulator_fixtures.emulator_server

THRESHOLD = 0.6


async def _character(api: Api, name: str, photo: Image.Image) -> dict[str, str]:
    """A workspace character whose reference image is ``photo``."""
    created = await api.http.post("/v1/characters", json={**MARA, "name": name})
    assert created.status_code == 201, created.text
    character_id = created.json()["character"]["id"]
    services = api.harness.services
    asset = await services.assets.ingest_bytes(png_bytes(photo), source="upload")
    await CharacterRepository.on(services.catalog).add_image(
        character_id=character_id,
        asset_id=asset.id,
        kind="reference",
        provider="local",
        prompt=f"{name}, front view",
    )
    return {"id": character_id, "asset_id": asset.id}


async def _made(api: Api, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The still's and the clip's records of a cutscene triggered with ``fields``, once done."""
    response = await api.trigger(**fields)
    assert response.status_code == 202, response.text
    body = response.json()
    await wait_for_cutscene(api, body["cutscene_id"], timeout_s=240)
    still = await api.record(body["image_asset_id"])
    clip = await api.record(body["video_asset_id"])
    assert (still["status"], clip["status"]) == ("complete", "complete"), (still, clip)
    return still, clip


async def test_a_cutscene_s_still_and_poster_are_measured_against_the_reference(
    tmp_path: Path, emulator_server: EmulatorServer
) -> None:
    face_analyzer()  # skips where the dlib model files are not installed
    async with open_api(tmp_path, emulator_server) as api:
        mara = await _character(api, "Mara Quell", astronaut())
        toby = await _character(api, "Toby", Image.new("RGB", (160, 160), (70, 120, 180)))
        await api.enable(image_provider="local", video_provider="local")

        still, clip = await _made(
            api,
            characters=[mara["id"], toby["id"]],
            image_prompt="Mara Quell looks straight at us from the quay",
            motion_prompt="close-up, slow push-in",
        )
        # Mara is drawn from her photo and measured under the threshold; Toby's reference
        # shows no face, so he is not measured.
        for record in (still, clip):
            [check] = record["identity"]
            assert check["character"] == "Mara Quell"
            assert check["reference"] == mara["asset_id"]
            assert check["face_found"] is True, record
            assert check["distance"] < THRESHOLD
            assert check["passed"] is True
            assert record["quality_score"] == pytest.approx(1 - check["distance"], abs=1e-4)
            assert record["warnings"] == []

        # Kept with the media record in the catalog, read back as the API showed it.
        repository = CutsceneRepository.on(api.harness.services.catalog)
        stored = await repository.get_media(still["id"])
        assert stored.identity is not None
        assert stored.identity["checks"] == still["identity"]
        assert stored.identity["quality_score"] == still["quality_score"]

        # Only Toby, whose reference has no face: nothing measured, no fields.
        still, clip = await _made(api, characters=[toby["id"]], turn_number=13)
        for record in (still, clip):
            assert {"identity", "quality_score", "warnings"}.isdisjoint(record), record
        assert (await repository.get_media(still["id"])).identity is None
