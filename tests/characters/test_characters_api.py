"""The characters API against the Character Library emulator: every route, on loopback, through
the real engine; images decoded back from our store, the emulator's ledger counting calls."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from characters.characters_support import MARA, Workspace, library_settings, open_workspace
from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator import EmulatorServer
from reelforge.errors import NotFound
from reelforge.features.characters.prompting import MASTER_FRAMING

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


async def _calls(emulator: EmulatorControl) -> dict[str, int]:
    summary = (await emulator.ledger("character_library"))["providers"]
    calls: dict[str, int] = summary.get("character_library", {}).get("calls", {})
    return calls


async def _decoded(ws: Workspace, url: str) -> Image.Image:
    response = await ws.http.get(url)
    assert response.status_code == 200, url
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


@pytest.fixture
async def ws(
    tmp_path: Path, emulator_server: EmulatorServer, emulator: EmulatorControl
) -> AsyncIterator[Workspace]:
    async with open_workspace(library_settings(tmp_path / "data", emulator_server.base_url)) as w:
        yield w


async def test_characters_are_created_read_listed_and_patched(ws: Workspace) -> None:
    created = await ws.create()
    assert created["name"] == "Mara Quell"
    assert created["visual"] == MARA["visual"]
    assert created["libraryDbId"] is None

    fetched = (await ws.http.get(f"/v1/characters/{created['id']}")).json()
    assert fetched == {"success": True, "character": created}
    listed = (await ws.http.get("/v1/characters", params={"projectId": "p-harbour"})).json()
    assert [c["id"] for c in listed["characters"]] == [created["id"]]
    assert (await ws.http.get("/v1/characters", params={"projectId": "other"})).json()[
        "characters"
    ] == []

    patch = {"description": "Retired pilot.", "visual": {"hair": "white", "age": None}}
    patched = await ws.http.patch(f"/v1/characters/{created['id']}", json=patch)
    assert patched.status_code == 200, patched.text
    character = patched.json()["character"]
    assert character["description"] == "Retired pilot."
    assert character["name"] == "Mara Quell"
    assert character["visual"]["hair"] == "white"
    assert "age" not in character["visual"]
    assert character["visual"]["eyes"] == "storm grey"


async def test_bad_input_and_unknown_characters_use_the_error_envelope(ws: Workspace) -> None:
    refused = await ws.http.post("/v1/characters", json={"name": "", "colour": "red"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "INVALID_INPUT"
    for method, path in (
        ("GET", "/v1/characters/nope"),
        ("GET", "/v1/characters/nope/images"),
        ("GET", "/v1/characters/nope/initial-image-prompt"),
        ("POST", "/v1/characters/nope/generate-initial-image"),
        ("DELETE", "/v1/characters/nope/images/nothing"),
    ):
        response = await ws.http.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["success"] is False
        assert response.json()["error"]["code"] == "NOT_FOUND"
    character = await ws.create()
    no_scene = await ws.http.post(f"/v1/characters/{character['id']}/generate-scene-image")
    assert no_scene.status_code == 400


async def test_the_initial_prompt_comes_only_from_stored_facts(ws: Workspace) -> None:
    character = await ws.create()
    answer = (await ws.http.get(f"/v1/characters/{character['id']}/initial-image-prompt")).json()
    assert set(answer) == {"success", "prompt"}
    assert answer["success"] is True
    prompt = answer["prompt"]
    for fact in ("Mara Quell", "night pilot", "silver, cropped short", "scar over the left brow"):
        assert fact in prompt
    assert prompt.endswith(f"Framing: {MASTER_FRAMING}")

    bare = await ws.create(
        name='Tom "Old" Reed', description="", visual={}, projectId=None, libraryDbId=None
    )
    bare_prompt = (await ws.http.get(f"/v1/characters/{bare['id']}/initial-image-prompt")).json()
    # Nothing stored beyond the name: nothing invented, and no quotation marks.
    assert bare_prompt["prompt"] == (
        f"Master reference image of Tom Old Reed. Framing: {MASTER_FRAMING}"
    )


async def test_a_reference_is_generated_ingested_and_recorded(
    ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    prompt = "Mara Quell at the helm, rain on her oilskin coat"
    response = await ws.http.post(
        f"/v1/characters/{character['id']}/generate-initial-image", json={"prompt": prompt}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    assert body["pending"] is False
    [image] = body["images"]
    assert image["kind"] == "reference"
    assert image["provider"] == "character_library"
    assert image["prompt"] == prompt
    assert image["status"] == "succeeded"
    assert image["externalId"]
    assert image["metrics"]["durationMs"] >= 0
    # The library's URL is remembered; the image itself is ours.
    assert image["sourceUrl"].startswith(emulator.base_url)
    assert image["url"].startswith("/media/")
    assert image["media"]["source"] == "provider"
    decoded = await _decoded(ws, image["url"])
    assert decoded.size == (720, 720)
    thumbnail = await _decoded(ws, image["thumbnailUrl"])
    assert max(thumbnail.size) <= 320

    assert await _calls(emulator) == {"reference_image": 1}
    updated = (await ws.http.get(f"/v1/characters/{character['id']}")).json()["character"]
    assert updated["libraryDbId"] == image["metrics"]["libraryDbId"]


async def test_a_library_500_is_surfaced_with_no_record_and_no_retry(
    ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    await emulator.inject("character_library", "reference_image", "http_500", count=1)
    response = await ws.http.post(f"/v1/characters/{character['id']}/generate-initial-image")
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "CHARACTER_LIBRARY_ERROR"
    assert "HTTP 500" in error["message"]
    assert await ws.images(character["id"]) == []
    assert await ws.harness.services.catalog.assets.list() == []
    assert await _calls(emulator) == {"reference_image": 1}


async def test_the_360_set_arrives_all_at_once(ws: Workspace, emulator: EmulatorControl) -> None:
    character = await ws.create()
    reference = await ws.http.post(f"/v1/characters/{character['id']}/generate-initial-image")
    reference_id = reference.json()["images"][0]["id"]
    response = await ws.http.post(
        f"/v1/characters/{character['id']}/generate-360-set",
        json={"referenceImageId": reference_id},
    )
    assert response.status_code == 201, response.text
    images = response.json()["images"]
    assert len(images) == 8
    assert {image["kind"] for image in images} == {"portfolioItem"}
    assert [image["metrics"]["angle"] for image in images][:2] == ["front", "front-right"]
    assert all(image["metrics"]["referenceImageId"] == reference_id for image in images)
    assert len({image["mediaId"] for image in images}) == 8
    for image in images[:2]:
        assert (await _decoded(ws, image["url"])).size == (720, 720)
    assert await _calls(emulator) == {"reference_image": 1, "generate_360_set": 1}


async def test_the_360_set_and_scenes_need_a_library_character(ws: Workspace) -> None:
    character = await ws.create()
    response = await ws.http.post(f"/v1/characters/{character['id']}/generate-360-set")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


async def test_a_scene_image_keeps_the_scene_context_as_its_prompt(
    ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    await ws.http.post(f"/v1/characters/{character['id']}/generate-initial-image")
    context = "On the pier at night, lantern light, fog rolling in"
    response = await ws.http.post(
        f"/v1/characters/{character['id']}/generate-scene-image", json={"sceneContext": context}
    )
    assert response.status_code == 201, response.text
    [image] = response.json()["images"]
    assert (image["kind"], image["prompt"]) == ("scene", context)
    assert (await _decoded(ws, image["url"])).size == (1280, 720)
    listed = await ws.images(character["id"])
    assert [i["kind"] for i in listed] == ["scene", "reference"]  # newest first
    assert listed[0]["thumbnailUrl"].startswith("/media/thumbnails/")
    assert await _calls(emulator) == {"reference_image": 1, "scene_image": 1}


async def test_a_dry_run_prices_the_plan_and_calls_no_one(
    ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    response = await ws.http.post(
        f"/v1/characters/{character['id']}/generate-initial-image", json={"dry_run": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True
    assert body["total_usd"] == "0.00"
    assert [job["provider"] for job in body["jobs"]] == ["character_library"]
    assert body["jobs"][0]["prompt"].endswith(MASTER_FRAMING)
    assert await _calls(emulator) == {}
    assert await ws.images(character["id"]) == []


async def test_deleting_a_reference_removes_row_object_thumbnail_and_the_remote_copy(
    ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    made = await ws.http.post(f"/v1/characters/{character['id']}/generate-initial-image")
    image = made.json()["images"][0]
    media = image["media"]
    stored = ws.media_path(media["key"])
    thumbnail = ws.media_path(image["thumbnailUrl"].removeprefix("/media/"))
    assert stored.is_file()
    assert thumbnail.is_file()

    response = await ws.http.delete(f"/v1/characters/{character['id']}/images/{image['id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["remote"]["attempted"] is True
    assert body["remote"]["deleted"] is True
    assert await ws.images(character["id"]) == []
    with pytest.raises(NotFound):
        await ws.harness.services.catalog.assets.get(media["id"])
    assert not stored.exists()
    assert not thumbnail.exists()
    assert (await ws.http.get(image["url"])).status_code == 404
    assert (await _calls(emulator))["delete_reference_image"] == 1


async def test_a_failed_remote_delete_still_deletes_locally_and_says_so(
    ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    made = await ws.http.post(f"/v1/characters/{character['id']}/generate-initial-image")
    image = made.json()["images"][0]
    await emulator.inject("character_library", "delete_reference_image", "http_500", count=1)
    response = await ws.http.delete(f"/v1/characters/{character['id']}/images/{image['id']}")
    assert response.status_code == 200, response.text
    remote = response.json()["remote"]
    assert remote["attempted"] is True
    assert remote["deleted"] is False
    assert remote["reason"]
    assert await ws.images(character["id"]) == []
    assert not ws.media_path(image["media"]["key"]).exists()
    assert (await _calls(emulator))["delete_reference_image"] == 1


async def test_deleting_a_portfolio_item_stays_local(
    ws: Workspace, emulator: EmulatorControl
) -> None:
    character = await ws.create()
    await ws.http.post(f"/v1/characters/{character['id']}/generate-initial-image")
    views = (await ws.http.post(f"/v1/characters/{character['id']}/generate-360-set")).json()
    victim = views["images"][3]
    response = await ws.http.delete(f"/v1/characters/{character['id']}/images/{victim['id']}")
    assert response.json()["remote"]["attempted"] is False
    remaining = await ws.images(character["id"])
    assert len(remaining) == 8
    assert victim["id"] not in {i["id"] for i in remaining}
    assert "delete_reference_image" not in await _calls(emulator)
    again = await ws.http.delete(f"/v1/characters/{character['id']}/images/{victim['id']}")
    assert again.status_code == 404
