"""A trigger's characters, given as workspace ids or names, send their reference images with the
cutscene's still: fal gets them as FLUX Kontext multi's ``image_urls`` (seen in the emulator's
ledger); the dry run shows the cast and its references, and for the local studio which reference
draws which character; an id of no character is ``NOT_FOUND``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from characters.characters_support import MARA
from cutscenes.cutscenes_support import Api, open_api, wait_for_cutscene
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

KONTEXT = "fal-ai/flux-pro/kontext/multi"


async def _workspace_character(api: Api) -> dict[str, Any]:
    """Mara, made in the workspace, with a reference image from the local studio."""
    created = await api.http.post("/v1/characters", json=MARA)
    assert created.status_code == 201, created.text
    character_id = created.json()["character"]["id"]
    made = await api.http.post(f"/v1/characters/{character_id}/generate-initial-image", timeout=120)
    assert made.status_code == 201, made.text
    [image] = made.json()["images"]
    asset = await api.harness.services.catalog.assets.get(image["mediaId"])
    return {"id": character_id, "asset_id": asset.id, "sha256": asset.sha256}


async def test_a_cutscene_s_still_carries_its_cast_s_references(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=0.1, queue_s=0.02)
    async with open_api(tmp_path, emulator_server) as api:
        mara = await _workspace_character(api)
        await api.enable()

        planned = await api.trigger(characters=[mara["id"], "Kai"], dry_run=True)
        assert planned.status_code == 200, planned.text
        cast = planned.json()["cast"]
        assert cast["characters"] == [
            {"given": mara["id"], "name": "Mara Quell", "character_id": mara["id"],
             "reference": mara["asset_id"]},
            {"given": "Kai", "name": "Kai", "character_id": None, "reference": None},
        ]  # fmt: skip
        assert (cast["references"], cast["fallback_to_text"]) == ([mara["asset_id"]], False)
        [still, _clip] = planned.json()["jobs"]
        assert still["model"] == KONTEXT
        assert still["reference_asset_ids"] == [mara["asset_id"]]
        assert "Characters: Mara Quell, Kai." in still["prompt"]

        # By name, in any case: the same character, and her reference reaches fal.
        response = await api.trigger(characters=["mara quell", "Kai"])
        assert response.status_code == 202, response.text
        await wait_for_cutscene(api, response.json()["cutscene_id"])
        image = await api.record(response.json()["image_asset_id"])
        assert image["status"] == "complete", image
        received = (await emulator.ledger("fal"))["received"]
        [sent] = [r for r in received if r["model"] == KONTEXT]
        assert [ref["sha256"] for ref in sent["references"]] == [mara["sha256"]]

        # The local studio takes the reference too, and its scene says which one shows Mara
        # (the studio draws her from it); Kai has none.
        await api.enable(image_provider="local")
        planned = await api.trigger(characters=["Mara Quell", "Kai"], dry_run=True)
        assert planned.status_code == 200, planned.text
        cast = planned.json()["cast"]
        assert cast["fallback_to_text"] is False
        assert (cast["references"], cast["references_left_out"]) == ([mara["asset_id"]], [])
        [still, _clip] = planned.json()["jobs"]
        assert still["reference_asset_ids"] == [mara["asset_id"]]
        assert still["scene"]["characters"] == [
            {"name": "Mara Quell", "reference": 0},
            {"name": "Kai"},
        ]


async def test_an_id_of_no_character_is_not_found(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> None:
    async with open_api(tmp_path, emulator_server) as api:
        await api.enable()
        response = await api.trigger(characters=["Kai", "0" * 32], dry_run=True)
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert error["code"] == "NOT_FOUND"
        assert error["details"]["field"] == "characters[1]"
        assert (await emulator.ledger("fal"))["calls"] == []
