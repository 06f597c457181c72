"""The Character Library adapter: its named operations, the assumed shapes, the delete, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator.character_library import ANGLES
from reelforge.errors import (
    ConfigurationError,
    ContentRejected,
    InvalidInput,
    ProviderRateLimited,
    ProviderRejectedInput,
    ProviderTimeout,
    ProviderUnavailable,
)
from reelforge.providers.base import (
    Capability,
    Failed,
    GenerationRequest,
    InputImage,
    JobHandle,
    ProviderDeps,
    Succeeded,
)
from reelforge.providers.character_library import (
    CharacterLibraryError,
    CharacterLibraryProvider,
    CharacterLibrarySettings,
    character_library_error,
)

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


def provider(
    http: httpx.AsyncClient | None = None, environ: dict[str, str] | None = None, **settings: Any
) -> CharacterLibraryProvider:
    deps = ProviderDeps(http=http or httpx.AsyncClient(), environ=environ or {})
    return CharacterLibraryProvider(CharacterLibrarySettings(**settings), deps)


def request(capability: Capability = Capability.TEXT_TO_IMAGE, **fields: Any) -> GenerationRequest:
    return GenerationRequest(capability, "a tall knight, chest-to-mid-thigh crop", **fields)


@pytest.fixture
async def library(emulator: EmulatorControl) -> AsyncIterator[CharacterLibraryProvider]:
    """The adapter finding the emulated library through CHARACTER_LIBRARY_API_URL."""
    async with httpx.AsyncClient(trust_env=False) as http:
        root = f"{emulator.base_url}/character_library"
        yield provider(http, {"CHARACTER_LIBRARY_API_URL": root}, timeout_s=5.0)


def test_requests_become_the_assumed_bodies() -> None:
    adapter = provider()
    kind, body = adapter._prepare(request(seed=4, options={"character_id": "c-1"}))
    assert kind == "reference"
    assert body == {
        "width": 1280,
        "height": 720,
        "seed": 4,
        "prompt": "a tall knight, chest-to-mid-thigh crop",
        "characterId": "c-1",
    }
    reference = InputImage(content_type="image/png", url="https://media.example/ref.png")
    kind, body = adapter._prepare(
        request(
            Capability.IMAGE_TO_IMAGE,
            images=(reference,),
            options={"kind": "scene", "library_db_id": "chr_1"},
        )
    )
    assert kind == "scene"
    assert body["sceneContext"] == "a tall knight, chest-to-mid-thigh crop"
    assert (body["libraryDbId"], body["referenceImageUrl"]) == ("chr_1", reference.url)


@pytest.mark.parametrize(
    ("capability", "options", "images"),
    [
        (Capability.TEXT_TO_IMAGE, {"kind": "portfolio"}, ()),
        (Capability.IMAGE_TO_IMAGE, {}, (InputImage(content_type="image/png", url="https://x"),)),
        (
            Capability.IMAGE_TO_IMAGE,
            {"kind": "reference", "library_db_id": "chr_1"},
            (InputImage(content_type="image/png", data=b"png"),),
        ),
        (Capability.TEXT_TO_IMAGE, {"kind": "turnaround"}, ()),
        (Capability.IMAGE_TO_VIDEO, {}, (InputImage(content_type="image/png", url="https://x"),)),
    ],
)
def test_requests_the_library_cannot_serve_are_refused(
    capability: Capability, options: dict[str, Any], images: tuple[InputImage, ...]
) -> None:
    extra: dict[str, Any] = {"duration_s": 4.0} if capability.makes_video else {}
    with pytest.raises(InvalidInput):
        provider()._prepare(request(capability, options=options, images=images, **extra))


def test_the_root_comes_from_settings_then_the_environment() -> None:
    assert provider(base_url="http://a/")._root() == "http://a"
    env = {"CHARACTER_LIBRARY_API_URL": "http://b/"}
    assert provider(environ=env)._root() == "http://b"
    assert provider(environ=env, base_url="http://a")._root() == "http://a"
    with pytest.raises(ConfigurationError, match="CHARACTER_LIBRARY_API_URL"):
        provider()._root()


def test_cost_is_a_configurable_price_defaulting_to_zero() -> None:
    assert provider().estimate_cost(request()).amount_usd == 0
    priced = provider(price_per_image_usd="0.02", price_source="internal chargeback, 2026")
    estimate = priced.estimate_cost(request())
    assert estimate.amount_usd == Decimal("0.02")
    assert "internal chargeback, 2026" in estimate.basis


async def test_reference_360_set_scene_and_delete(
    library: CharacterLibraryProvider, emulator: EmulatorControl
) -> None:
    reference = await library.generate_reference("a tall knight", character_id="c-1")
    library_id = reference.metadata.extra["library_db_id"]
    assert library_id.startswith("chr_")
    [image] = reference.outputs
    assert image.url is not None
    assert image.url.endswith(".png")
    assert image.content_type == "image/png"

    portfolio = await library.generate_360_set(library_id, reference_url=image.url)
    assert len(portfolio.outputs) == len(ANGLES)
    assert all(output.url and output.data is None for output in portfolio.outputs)
    angles = [item["angle"] for item in portfolio.metadata.extra["images"]]
    assert angles == list(ANGLES)

    scene = await library.generate_scene(library_id, "at the castle gate, dusk")
    assert scene.metadata.extra["kind"] == "scene"

    assert await library.delete_reference_image(library_id) is True
    assert await library.delete_reference_image(library_id) is False
    calls = [c["operation"] for c in (await emulator.ledger("character_library"))["calls"]]
    assert calls.count("delete_reference_image") == 2


async def test_submit_keeps_the_finished_job(library: CharacterLibraryProvider) -> None:
    handle = await library.submit(request())
    state = await library.status(handle)
    assert isinstance(state, Succeeded)
    assert handle.model == "character-library/reference"
    await library.cancel(handle)
    gone = await provider().status(JobHandle("character_library", "r-x", handle.model))
    assert isinstance(gone, Failed)


async def test_a_500_is_surfaced_once_and_as_is(
    library: CharacterLibraryProvider, emulator: EmulatorControl
) -> None:
    await emulator.inject("character_library", "reference_image", "http_500", count=None)
    with pytest.raises(CharacterLibraryError) as raised:
        await library.generate_reference("a tall knight")
    assert type(raised.value) is CharacterLibraryError
    assert not raised.value.retryable
    assert len((await emulator.ledger("character_library"))["calls"]) == 1


async def test_unknown_character_is_a_library_error(library: CharacterLibraryProvider) -> None:
    with pytest.raises(CharacterLibraryError, match="HTTP 404"):
        await library.generate_360_set("chr_nobody")


async def test_a_failed_remote_delete_is_false_not_an_error(emulator: EmulatorControl) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        unreachable = provider(http, base_url="http://127.0.0.1:9", timeout_s=1.0)
        assert await unreachable.delete_reference_image("chr_1") is False
        reachable = provider(http, base_url=f"{emulator.base_url}/character_library")
        await emulator.inject("character_library", "delete_reference_image", "http_500")
        assert await reachable.delete_reference_image("chr_1") is False
    with pytest.raises(InvalidInput):
        await provider(base_url="http://a").delete_reference_image("../admin")


def response(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_error_translation_table() -> None:
    assert isinstance(character_library_error("x", httpx.ReadTimeout("t")), ProviderTimeout)
    assert isinstance(character_library_error("x", httpx.ConnectError("c")), ProviderUnavailable)
    assert type(character_library_error("x", response(500, {"success": False}))) is (
        CharacterLibraryError
    )
    limited = character_library_error("x", response(429, None, **{"Retry-After": "2"}))
    assert isinstance(limited, ProviderRateLimited)
    assert limited.retry_after == 2
    rejected = character_library_error("x", response(422, {"code": "CONTENT_REJECTED"}))
    assert isinstance(rejected, ContentRejected)
    assert isinstance(character_library_error("x", response(400, {})), ProviderRejectedInput)
    assert isinstance(character_library_error("x", response(503)), ProviderUnavailable)
    assert isinstance(character_library_error("x", response(504)), ProviderTimeout)
    assert "without a key" in character_library_error("x", response(401)).message
