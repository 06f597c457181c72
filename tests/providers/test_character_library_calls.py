"""Which Character Library call a generic request makes: the kind each capability defaults to,
explicit kinds and models, the reference image we hold as bytes, and the price of that call."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.emulator.character_library import ANGLES
from reelforge.errors import InvalidInput, ProviderRejectedInput
from reelforge.providers.base import (
    Capability,
    GenerationRequest,
    InputImage,
    PriceQuery,
    ProviderDeps,
)
from reelforge.providers.character_library import (
    CharacterLibraryProvider,
    CharacterLibrarySettings,
)

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

PROMPT = "a tall knight, chest-to-mid-thigh crop"
I2I = Capability.IMAGE_TO_IMAGE
T2I = Capability.TEXT_TO_IMAGE


def adapter(
    http: httpx.AsyncClient | None = None, root: str = "http://a"
) -> CharacterLibraryProvider:
    deps = ProviderDeps(http=http or httpx.AsyncClient(), environ={})
    settings = CharacterLibrarySettings(base_url=root, timeout_s=5.0, price_per_image_usd="0.02")
    return CharacterLibraryProvider(settings, deps)


def portrait_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 64), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def request(
    capability: Capability, *, model: str | None = None, **options: Any
) -> GenerationRequest:
    images = (InputImage("image/png", data=portrait_png()),) if capability is I2I else ()
    return GenerationRequest(capability, PROMPT, model=model, images=images, options=options)


def priced_model(library: CharacterLibraryProvider, made: GenerationRequest) -> str:
    query = PriceQuery(made.capability, model=made.model, options=made.options, image_count=1)
    return library.price(query).model


@pytest.mark.parametrize(
    ("capability", "options", "kind"),
    [(T2I, {}, "reference"), (I2I, {"library_db_id": "chr_1"}, "portfolio")],
)
def test_each_capability_defaults_to_a_call_that_serves_it(
    capability: Capability, options: dict[str, Any], kind: str
) -> None:
    library = adapter()
    made = request(capability, **options)
    assert library._prepare(made)[0] == kind
    assert library.default_model(capability) == f"character-library/{kind}"
    # The price names the call made, and a request naming the default model makes that call.
    assert priced_model(library, made) == library.default_model(capability)
    named = request(capability, model=library.default_model(capability), **options)
    assert library._prepare(named)[0] == kind


@pytest.mark.parametrize(
    ("capability", "model", "options", "kind"),
    [
        (T2I, None, {"kind": "portfolio", "library_db_id": "chr_1"}, "portfolio"),
        (T2I, None, {"kind": "scene", "library_db_id": "chr_1"}, "scene"),
        (I2I, None, {"kind": "scene", "library_db_id": "chr_1"}, "scene"),
        (I2I, "character-library/scene", {"library_db_id": "chr_1"}, "scene"),
        (T2I, "character-library/portfolio", {"library_db_id": "chr_1"}, "portfolio"),
        (T2I, "character-library/reference", {"kind": "reference"}, "reference"),
    ],
)
def test_an_explicit_kind_or_model_is_honoured(
    capability: Capability, model: str | None, options: dict[str, Any], kind: str
) -> None:
    library = adapter()
    made = request(capability, model=model, **options)
    assert library._prepare(made)[0] == kind
    assert priced_model(library, made) == f"character-library/{kind}"


@pytest.mark.parametrize(
    ("capability", "model", "options", "field"),
    [
        (I2I, None, {}, "library_db_id"),
        (I2I, None, {"kind": "reference", "library_db_id": "chr_1"}, None),
        (I2I, "character-library/reference", {"library_db_id": "chr_1"}, None),
        (T2I, "character-library/scene", {"kind": "portfolio", "library_db_id": "c"}, "kind"),
        (T2I, "flux-dev", {}, "model"),
    ],
)
def test_a_call_the_library_cannot_make_is_refused_and_not_priced(
    capability: Capability, model: str | None, options: dict[str, Any], field: str | None
) -> None:
    library = adapter()
    made = request(capability, model=model, **options)
    for check in (library._prepare, lambda r: priced_model(library, r)):
        with pytest.raises(InvalidInput) as refused:
            check(made)
        assert refused.value.details.get("field") == field


def test_a_reference_image_we_hold_is_sent_as_a_data_uri() -> None:
    made = request(I2I, library_db_id="chr_1")
    _, body = adapter()._prepare(made)
    header, _, payload = body["referenceImageUrl"].partition(",")
    assert header == "data:image/png;base64"
    assert base64.b64decode(payload) == made.images[0].data
    by_url = InputImage("image/png", url="https://media.example/ref.png")
    made = GenerationRequest(I2I, PROMPT, images=(by_url,), options={"library_db_id": "chr_1"})
    assert adapter()._prepare(made)[1]["referenceImageUrl"] == by_url.url


@pytest.fixture
async def sent(
    emulator: EmulatorControl,
) -> AsyncIterator[tuple[CharacterLibraryProvider, list[Any]]]:
    """The adapter on the emulated library, and every JSON body it sent there."""
    bodies: list[Any] = []

    async def keep(outgoing: httpx.Request) -> None:
        bodies.append(json.loads(outgoing.content) if outgoing.content else None)

    async with httpx.AsyncClient(trust_env=False, event_hooks={"request": [keep]}) as http:
        yield adapter(http, f"{emulator.base_url}/character_library"), bodies


async def test_image_to_image_at_its_default_makes_the_360_set_from_our_bytes(
    sent: tuple[CharacterLibraryProvider, list[Any]],
) -> None:
    library, bodies = sent
    reference = await library.run(request(T2I))
    library_db_id = reference.metadata.extra["library_db_id"]

    made = request(I2I, library_db_id=library_db_id)
    portfolio = await library.run(made)
    assert portfolio.metadata.model == library.default_model(I2I)
    assert [item["angle"] for item in portfolio.metadata.extra["images"]] == list(ANGLES)
    assert portfolio.cost_usd == library.settings.price_per_image_usd * len(ANGLES)
    uri = bodies[-1]["referenceImageUrl"]
    assert base64.b64decode(uri.partition(",")[2]) == made.images[0].data

    scene = await library.run(request(I2I, kind="scene", library_db_id=library_db_id))
    assert scene.metadata.model == "character-library/scene"
    assert bodies[-1]["sceneContext"] == PROMPT
    assert bodies[-1]["referenceImageUrl"] == uri


@pytest.mark.parametrize(
    "reference",
    [
        "data:image/png;base64,bm90IGFuIGltYWdl",  # "not an image"
        "data:image/png;base64,%%%",
        "data:text/plain;base64," + base64.b64encode(b"hello").decode(),
        "ftp://media.example/ref.png",
    ],
)
async def test_the_emulated_library_refuses_a_reference_it_cannot_read(
    sent: tuple[CharacterLibraryProvider, list[Any]], reference: str
) -> None:
    library, _ = sent
    library_db_id = (await library.run(request(T2I))).metadata.extra["library_db_id"]
    with pytest.raises(ProviderRejectedInput, match="referenceImageUrl"):
        await library.generate_360_set(library_db_id, reference_url=reference)
