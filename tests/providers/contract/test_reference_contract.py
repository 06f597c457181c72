"""Reference images in the contract: an adapter that declares it takes them
(``Provider.reference_images``) sends them, in order, in the body the emulator receives; more
than it declares (any, for one that declares none) are refused before anything is sent. A case
skipped here is an adapter that still lacks the capability (see docs/providers.md)."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from fixtures.emulator import EmulatorControl
from providers.contract import contract_support as support
from providers.contract.contract_cases import ProviderCase
from providers.contract.contract_support import settle, still_request
from reelforge.errors import InvalidInput
from reelforge.providers.base import (
    Capability,
    GenerationRequest,
    InputImage,
    Provider,
    Succeeded,
)

emulator_server = support.emulator_server
emulator = support.emulator
captured_logs = support.captured_logs
case = support.case
no_key_in_logs = support.no_key_in_logs
adapters = support.adapters
provider = support.provider


def _png(colour: tuple[int, int, int]) -> InputImage:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buffer, format="PNG")
    return InputImage(content_type="image/png", data=buffer.getvalue())


async def test_references_reach_the_vendor_in_order(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    limit = provider.reference_limit(Capability.TEXT_TO_IMAGE)
    if limit == 0:
        pytest.skip(f"{case.id} takes no reference images yet")
    references = tuple(_png((40 * i, 90, 160)) for i in range(min(limit, 2)))
    handle = await provider.submit(still_request(references=references))
    state, _ = await settle(provider, handle)
    assert isinstance(state, Succeeded), state
    [received] = [
        r
        for r in (await emulator.ledger(case.id))["received"]
        if r["request_id"] == handle.request_id
    ]
    expected = [hashlib.sha256(image.data or b"").hexdigest() for image in references]
    assert [ref["sha256"] for ref in received["references"]] == expected
    assert {ref["content_type"] for ref in received["references"]} == {"image/png"}
    assert received["model"] == handle.model


async def test_more_references_than_declared_are_refused_before_sending(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    limit = provider.reference_limit(Capability.TEXT_TO_IMAGE)
    too_many = tuple(_png((i, i, i)) for i in range(limit + 1))
    with pytest.raises(InvalidInput, match=f"at most {limit} reference"):
        await provider.submit(still_request(references=too_many))
    assert (await emulator.ledger(case.id))["calls"] == []


async def test_video_references_reach_the_vendor_in_order(
    case: ProviderCase, provider: Provider, emulator: EmulatorControl
) -> None:
    limit = provider.reference_limit(Capability.TEXT_TO_VIDEO)
    if limit == 0:
        pytest.skip(f"{case.id} takes no reference images for text→video")
    references = tuple(_png((20 * i, 60, 200)) for i in range(limit))
    request = GenerationRequest(
        capability=Capability.TEXT_TO_VIDEO,
        prompt="The keeper walks along the cliff",
        width=1280,
        height=720,
        duration_s=4.0,
        references=references,
    )
    handle = await provider.submit(request)
    state, _ = await settle(provider, handle)
    assert isinstance(state, Succeeded), state
    [received] = [
        r
        for r in (await emulator.ledger(case.id))["received"]
        # A long-running operation's handle is its name, which ends in the request id.
        if handle.request_id.rsplit("/", 1)[-1] == r["request_id"]
    ]
    expected = [hashlib.sha256(image.data or b"").hexdigest() for image in references]
    assert [ref["sha256"] for ref in received["references"]] == expected
