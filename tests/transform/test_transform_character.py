"""A transform of a workspace character: ``character_id`` instead of an upload takes the
character's newest reference image (a copy, so the character keeps hers) to the provider, seen
in the emulator's prediction; a character that does not exist is ``NOT_FOUND``, one without a
reference image ``INVALID_INPUT``, and neither reaches a provider."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import httpx

from characters.characters_support import MARA
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer
from reelforge.emulator.replicate.api import DUMMY_KEY as REPLICATE_KEY
from reelforge.features.characters.repository import CharacterRepository
from transform.transform_support import (
    DESCRIPTION,
    HOSTED_ENV,
    TransformApp,
    astronaut,
    encoded,
    transform_app,
    transform_settings,
)

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


async def _character(app: TransformApp, http: httpx.AsyncClient, photo: bytes | None) -> str:
    """Mara in the workspace; with ``photo``, that photo as her reference image."""
    created = await http.post(f"{app.base_url}/v1/characters", json=MARA)
    assert created.status_code == 201, created.text
    character_id: str = created.json()["character"]["id"]
    if photo is not None:
        asset = await app.services.assets.ingest_bytes(photo, source="upload")
        await CharacterRepository.on(app.services.catalog).add_image(
            character_id=character_id,
            asset_id=asset.id,
            kind="reference",
            provider="local",
            prompt="a portrait photo",
        )
    return character_id


async def _transform(app: TransformApp, http: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    body = {"scene_description": DESCRIPTION, **fields}
    return await http.post(f"{app.base_url}/generate/cinematic", json=body, timeout=120)


async def test_a_character_s_reference_is_transformed_and_kept(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    photo = encoded(astronaut(), "PNG")
    settings = transform_settings(tmp_path / "data", emulator_server.base_url)
    async with transform_app(settings, environ=HOSTED_ENV) as app, httpx.AsyncClient() as http:
        character_id = await _character(app, http, photo)
        response = await _transform(app, http, character_id=character_id)
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["provider"] == "REPLICATE"

        # The prediction's input image is the character's reference, byte for byte.
        [received] = (await emulator.ledger("replicate"))["received"]
        prediction = await http.get(
            f"{emulator_server.base_url}/replicate/v1/predictions/{received['request_id']}",
            headers={"Authorization": f"Bearer {REPLICATE_KEY}"},
        )
        image = prediction.json()["input"]["image"]
        sent = base64.b64decode(image.partition(",")[2])
        assert hashlib.sha256(sent).hexdigest() == hashlib.sha256(photo).hexdigest()

        # The character keeps her reference; the transform's copy of it is gone.
        reference = await app.services.characters.newest_reference(character_id)
        assert reference is not None
        assert (await app.services.assets.get(reference.id)).sha256 == reference.sha256


async def test_characters_that_cannot_be_transformed_are_refused_by_type(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    settings = transform_settings(tmp_path / "data", emulator_server.base_url)
    async with transform_app(settings, environ=HOSTED_ENV) as app, httpx.AsyncClient() as http:
        response = await _transform(app, http, character_id="no-such-character")
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert (error["code"], error["details"]["field"]) == ("NOT_FOUND", "character_id")

        bare = await _character(app, http, None)
        response = await _transform(app, http, character_id=bare)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert (error["code"], error["details"]["reason"]) == ("INVALID_INPUT", "no_reference")

        response = await _transform(app, http, character_id="../etc")
        assert response.status_code == 400, response.text
        assert (await emulator.ledger("replicate"))["calls"] == []
