"""Finding a submission a crash cut off (``find_submissions``), against the emulator's listings:
fal's requests by endpoint, Replicate's predictions, Leonardo's user generations. A submission is
found; a different request, or one made before the intent, is not; matches come oldest first
across pages; the vendors without a listing say so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import EmulatorControl
from reelforge.errors import ProviderUnavailable
from reelforge.providers.base import (
    TERMINAL_STATES,
    Capability,
    GenerationRequest,
    InputImage,
    JobHandle,
    Provider,
    ProviderDeps,
    SubmissionLookup,
    Succeeded,
)
from reelforge.providers.character_library import CharacterLibraryProvider
from reelforge.providers.fal import FalProvider, FalSettings
from reelforge.providers.google import GoogleProvider
from reelforge.providers.leonardo import LeonardoProvider, LeonardoSettings
from reelforge.providers.replicate import ReplicateProvider, ReplicateSettings
from reelforge.providers.runway import RunwayProvider

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator

ENVIRON = {
    "FAL_KEY": "fal-lookup-key",
    "REPLICATE_API_TOKEN": "r8_lookup-token",
    "LEONARDO_API_KEY": "leonardo-lookup-key",
}


@dataclass(frozen=True)
class Vendor:
    id: str
    build: Callable[[str, httpx.AsyncClient], Provider]
    #: The emulator's operation name for the listing call.
    listing: str
    #: True: only ended jobs are listed (fal), so a lookup waits for the job to end.
    ended_only: bool = False


VENDORS = [
    Vendor(
        "fal",
        lambda base, http: FalProvider(
            FalSettings(base_url=f"{base}/fal", timeout_s=5.0), ProviderDeps(http, ENVIRON)
        ),
        "list_requests",
        ended_only=True,
    ),
    Vendor(
        "replicate",
        lambda base, http: ReplicateProvider(
            ReplicateSettings(base_url=f"{base}/replicate", timeout_s=5.0),
            ProviderDeps(http, ENVIRON),
        ),
        "list",
    ),
    Vendor(
        "leonardo",
        lambda base, http: LeonardoProvider(
            LeonardoSettings(base_url=f"{base}/leonardo/api/rest/v1", timeout_s=5.0),
            ProviderDeps(http, ENVIRON),
        ),
        "list_generations",
    ),
]


@pytest.fixture(params=VENDORS, ids=[v.id for v in VENDORS])
def vendor(request: pytest.FixtureRequest) -> Vendor:
    found: Vendor = request.param
    return found


@pytest.fixture
async def adapter(vendor: Vendor, emulator: EmulatorControl) -> AsyncIterator[Provider]:
    await emulator.configure(latency_s=0.05, queue_s=0.01)
    async with httpx.AsyncClient(trust_env=False) as http:
        yield vendor.build(emulator.base_url, http)


def still(prompt: str = "A lighthouse at dawn", **fields: Any) -> GenerationRequest:
    shape: dict[str, Any] = {"width": 1024, "height": 576, "seed": 7}
    return GenerationRequest(Capability.TEXT_TO_IMAGE, prompt, **(shape | fields))


async def settle(provider: Provider, handle: JobHandle) -> object:
    async with asyncio.timeout(15):
        while not isinstance(state := await provider.status(handle), TERMINAL_STATES):
            await asyncio.sleep(0.02)
    return state


async def submitted(provider: Provider, vendor: Vendor, request: GenerationRequest) -> JobHandle:
    handle = await provider.submit(request)
    if vendor.ended_only:
        await settle(provider, handle)
    return handle


async def test_the_cut_off_submission_is_found_and_can_be_followed(
    vendor: Vendor, adapter: Provider
) -> None:
    assert adapter.finds_submissions
    request = still(webhook_url="https://example.test/webhooks/x?job=J&attempt=1")
    assert adapter.can_find_submission(request)
    intent = time.time()
    handle = await submitted(adapter, vendor, request)
    found = await adapter.find_submissions(SubmissionLookup(request, intent))
    assert [h.request_id for h in found] == [handle.request_id]
    assert found[0].provider == vendor.id
    assert found[0].model == handle.model
    assert isinstance(await settle(adapter, found[0]), Succeeded)


async def test_a_different_request_or_an_earlier_one_is_not_found(
    vendor: Vendor, adapter: Provider
) -> None:
    intent = time.time()
    await submitted(adapter, vendor, still())
    await submitted(adapter, vendor, still(seed=8))
    await submitted(adapter, vendor, still(width=512, height=512))
    for other in (still("A lighthouse at dusk"), still(seed=9), still(width=576, height=1024)):
        assert await adapter.find_submissions(SubmissionLookup(other, intent)) == []
    later = SubmissionLookup(still(), time.time() + 3600)
    assert await adapter.find_submissions(later) == []


async def test_matches_come_oldest_first_across_pages(
    vendor: Vendor, adapter: Provider, emulator: EmulatorControl
) -> None:
    await emulator.configure(list_page_size=2)
    intent = time.time()
    mine = []
    for n in range(5):
        mine.append(await submitted(adapter, vendor, still()))
        await submitted(adapter, vendor, still(f"another frame {n}"))
    found = await adapter.find_submissions(SubmissionLookup(still(), intent))
    assert [h.request_id for h in found] == [h.request_id for h in mine]
    listings = [
        c for c in (await emulator.ledger(vendor.id))["calls"] if c["operation"] == vendor.listing
    ]
    assert len(listings) >= 5  # ten jobs, two a page


async def test_an_unreadable_listing_is_a_passing_glitch(
    vendor: Vendor, adapter: Provider, emulator: EmulatorControl
) -> None:
    await emulator.inject(vendor.id, vendor.listing, "malformed_json")
    with pytest.raises(ProviderUnavailable) as raised:
        await adapter.find_submissions(SubmissionLookup(still(), time.time()))
    assert raised.value.details["reason"] == "malformed_body"
    assert await adapter.find_submissions(SubmissionLookup(still(), time.time())) == []


async def test_fal_lists_a_request_only_once_it_has_ended(emulator: EmulatorControl) -> None:
    await emulator.configure(latency_s=30.0, queue_s=0.01)
    async with httpx.AsyncClient(trust_env=False) as http:
        fal = VENDORS[0].build(emulator.base_url, http)
        intent = time.time()
        handle = await fal.submit(still())
        assert await fal.find_submissions(SubmissionLookup(still(), intent)) == []
        await fal.cancel(handle)


async def test_leonardo_cannot_tell_clips_apart(emulator: EmulatorControl) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        leonardo = VENDORS[2].build(emulator.base_url, http)
        image = InputImage(content_type="image/png", data=b"\x89PNG\r\n\x1a\nrest")
        clip = GenerationRequest(
            Capability.IMAGE_TO_VIDEO, "push in", duration_s=5.0, images=(image,)
        )
        intent = time.time()
        await leonardo.submit(clip)
        assert not leonardo.can_find_submission(clip)
        assert await leonardo.find_submissions(SubmissionLookup(clip, intent)) == []


@pytest.mark.parametrize(
    "provider_class", [RunwayProvider, GoogleProvider, CharacterLibraryProvider]
)
def test_vendors_without_a_listing_say_so(provider_class: type[Provider]) -> None:
    assert provider_class.finds_submissions is False
