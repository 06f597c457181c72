"""The diffusers provider on a real, tiny, random-weight Stable Diffusion pipeline (made in the
test, loaded from its folder like any model): batching, seeds, cancellation between steps,
image-to-image from the same weights, and the refusals."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from fixtures.tiny_diffusion import SIZE, require_diffusers, save_tiny_pipeline
from reelforge.errors import InvalidInput
from reelforge.providers.base import (
    Canceled,
    Capability,
    Failed,
    GenerationRequest,
    InputImage,
    JobHandle,
    JobState,
    ProviderDeps,
    Running,
    Succeeded,
)
from reelforge.providers.diffusers import DiffusersProvider, DiffusersSettings

require_diffusers()
pytestmark = pytest.mark.diffusers


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_pipeline(tmp_path_factory.mktemp("models"))


@pytest.fixture
async def provider(tiny_model: Path) -> AsyncIterator[DiffusersProvider]:
    settings = DiffusersSettings(
        models={"tiny": str(tiny_model)},
        text_to_image_model="tiny",
        device="cpu",
        batch_size=4,
        batch_window_s=0.2,
        default_steps=4,
    )
    async with httpx.AsyncClient() as http:
        adapter = DiffusersProvider(settings, ProviderDeps(http=http, environ={}))
        yield adapter
        await adapter.aclose()


def still(prompt: str, seed: int | None, **fields: object) -> GenerationRequest:
    sized: dict[str, object] = {"width": SIZE, "height": SIZE, **fields}
    return GenerationRequest(Capability.TEXT_TO_IMAGE, prompt, seed=seed, **sized)


async def settle(provider: DiffusersProvider, handle: JobHandle) -> JobState:
    for _ in range(2400):
        state = await provider.status(handle)
        if not isinstance(state, Running):
            return state
        await asyncio.sleep(0.025)
    raise AssertionError("the job never ended")


def pixels(state: JobState) -> np.ndarray:
    assert isinstance(state, Succeeded), getattr(state, "error", state)
    [output] = state.outputs
    assert output.content_type == "image/png"
    assert output.data is not None
    with Image.open(io.BytesIO(output.data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


async def test_jobs_that_arrive_together_share_one_pipeline_call(
    provider: DiffusersProvider,
) -> None:
    prompts = ["a lighthouse", "a red boat", "a storm", "a letter"]
    handles = [await provider.submit(still(p, seed=i)) for i, p in enumerate(prompts)]
    states = [await settle(provider, handle) for handle in handles]
    images = [pixels(state) for state in states]
    assert provider.runner.calls == 1
    batches = {s.metadata.extra["batch_id"] for s in states if isinstance(s, Succeeded)}
    assert len(batches) == 1
    assert all(image.shape == (SIZE, SIZE, 3) for image in images)
    for state, seed in zip(states, range(4), strict=True):
        assert isinstance(state, Succeeded)
        assert state.metadata.model == "tiny"
        assert state.metadata.seed == seed
        assert state.metadata.extra["batch_size"] == 4
        assert state.metadata.extra["device"] == "cpu"
        assert state.cost_usd == 0
    # different prompts and seeds give different pictures
    assert all(np.abs(images[0] - other).max() > 10 for other in images[1:])


async def test_a_seed_gives_the_same_picture_again(provider: DiffusersProvider) -> None:
    first = pixels(await settle(provider, await provider.submit(still("a pier", seed=42))))
    again = pixels(await settle(provider, await provider.submit(still("a pier", seed=42))))
    other = pixels(await settle(provider, await provider.submit(still("a pier", seed=43))))
    assert np.array_equal(first, again)
    assert np.abs(first - other).max() > 10
    assert provider.runner.calls == 3


async def test_an_unseeded_job_records_the_seed_it_got(provider: DiffusersProvider) -> None:
    state = await settle(provider, await provider.submit(still("a cliff", seed=None)))
    assert isinstance(state, Succeeded)
    assert isinstance(state.metadata.seed, int)
    replay = await settle(provider, await provider.submit(still("a cliff", state.metadata.seed)))
    assert np.array_equal(pixels(state), pixels(replay))


async def test_canceling_every_job_of_a_batch_stops_it_between_steps(
    provider: DiffusersProvider,
) -> None:
    handle = await provider.submit(still("a long night", seed=1, steps=400))
    while True:  # wait until the pipeline has taken a step
        state = await provider.status(handle)
        assert isinstance(state, Running)
        if state.progress:
            break
        await asyncio.sleep(0.01)
    await provider.cancel(handle)
    assert isinstance(await settle(provider, handle), Canceled)
    assert provider.runner.calls == 0  # interrupted, not finished


async def test_a_job_canceled_before_its_batch_starts_leaves_it(
    provider: DiffusersProvider,
) -> None:
    kept = await provider.submit(still("kept", seed=1))
    dropped = await provider.submit(still("dropped", seed=2))
    await provider.cancel(dropped)
    assert isinstance(await settle(provider, dropped), Canceled)
    state = await settle(provider, kept)
    assert isinstance(state, Succeeded)
    assert state.metadata.extra["batch_size"] == 1


async def test_image_to_image_reuses_the_loaded_weights(provider: DiffusersProvider) -> None:
    source = pixels(await settle(provider, await provider.submit(still("a harbour", seed=5))))
    buffer = io.BytesIO()
    Image.fromarray(source.astype(np.uint8)).save(buffer, format="PNG")
    request = GenerationRequest(
        Capability.IMAGE_TO_IMAGE,
        "the harbour at dusk",
        width=SIZE,
        height=SIZE,
        seed=5,
        steps=8,
        images=(InputImage(content_type="image/png", data=buffer.getvalue()),),
        options={"strength": 0.5},
    )
    state = await settle(provider, await provider.submit(request))
    assert pixels(state).shape == (SIZE, SIZE, 3)
    assert [capability for _, capability in provider._pipelines.loaded()] == [
        Capability.TEXT_TO_IMAGE,
        Capability.IMAGE_TO_IMAGE,
    ]


async def test_refusals_are_typed_and_name_the_problem(
    provider: DiffusersProvider, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="multiples of 8"):
        await provider.submit(still("odd", seed=1, width=60))
    with pytest.raises(InvalidInput, match="not one of"):
        await provider.submit(still("elsewhere", seed=1, model="sdxl"))
    with pytest.raises(InvalidInput, match="at most"):
        await provider.submit(still("huge", seed=1, width=4096))
    with pytest.raises(ValueError, match="not under models"):
        DiffusersSettings(models={}, text_to_image_model="tiny")

    missing = DiffusersSettings(
        models={"gone": str(tmp_path / "nothing-here")}, text_to_image_model="gone", device="cpu"
    )
    async with httpx.AsyncClient() as http:
        adapter = DiffusersProvider(missing, ProviderDeps(http=http, environ={}))
        try:
            state = await settle(adapter, await adapter.submit(still("x", seed=1)))
        finally:
            await adapter.aclose()
    assert isinstance(state, Failed)
    assert state.error.code == "DIFFUSERS_ERROR"
    assert "'gone'" in state.error.message
