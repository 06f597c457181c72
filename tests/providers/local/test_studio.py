"""The local studio through the provider contract: every capability, decoded back."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from decimal import Decimal

import av
import httpx
import pytest
from PIL import Image

from reelforge.errors import InvalidInput
from reelforge.providers.base import (
    TERMINAL_STATES,
    Canceled,
    Capability,
    Failed,
    GenerationRequest,
    InputImage,
    JobHandle,
    ProviderDeps,
    Succeeded,
)
from reelforge.providers.briefs import CharacterBrief, SceneBrief
from reelforge.providers.local.studio import LocalStudio, LocalStudioSettings

BRIEF = SceneBrief(
    frame_id="SCENE_1_SHOT_1",
    description="Mara reads the letter by the lamp.",
    camera_notes="close-up, push-in",
    lighting_mood="candlelit",
    prompt_seed="letter",
    characters=(CharacterBrief("Mara", "silver hair, red scarf"),),
)


@pytest.fixture
async def studio() -> AsyncIterator[LocalStudio]:
    async with httpx.AsyncClient() as http:
        provider = LocalStudio(LocalStudioSettings(), ProviderDeps(http=http, environ={}))
        yield provider
        await provider.aclose()


async def finish(studio: LocalStudio, handle: JobHandle) -> Succeeded:
    for _ in range(600):
        if isinstance(await studio.status(handle), TERMINAL_STATES):
            break
        await asyncio.sleep(0.02)
    return await studio.result(handle)


def png(color: tuple[int, int, int], size: tuple[int, int] = (320, 180)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_text_to_image_is_an_honest_deterministic_previz(studio: LocalStudio) -> None:
    request = GenerationRequest(
        capability=Capability.TEXT_TO_IMAGE,
        prompt=BRIEF.description,
        width=640,
        height=360,
        seed=7,
        scene=BRIEF,
    )
    first = await finish(studio, await studio.submit(request))
    second = await finish(studio, await studio.submit(request))
    data = first.outputs[0].data
    assert data is not None
    assert data == second.outputs[0].data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (640, 360)
    assert first.metadata.model == "reelforge-previz-1"
    assert (first.metadata.seed, first.metadata.steps) == (7, 0)
    assert first.metadata.inference_time_ms is not None
    assert first.cost_usd == Decimal("0")
    assert studio.estimate_cost(request).amount_usd == Decimal("0")


async def test_image_to_video_with_two_key_frames_decodes(studio: LocalStudio) -> None:
    request = GenerationRequest(
        capability=Capability.IMAGE_TO_VIDEO,
        prompt="crossfade",
        width=320,
        height=180,
        duration_s=1.5,
        camera_notes="pan left",
        images=(
            InputImage("image/png", data=png((200, 30, 30))),
            InputImage("image/png", data=png((30, 30, 200))),
        ),
    )
    result = await finish(studio, await studio.submit(request))
    output = result.outputs[0]
    assert output.content_type == "video/mp4"
    assert output.data is not None
    with av.open(io.BytesIO(output.data), mode="r") as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == 24
    assert len(frames) == 36
    assert frames[0].shape == (180, 320, 3)
    # The clip starts on the first key frame and ends on the second.
    assert frames[0][..., 0].mean() > frames[0][..., 2].mean()
    assert frames[-1][..., 2].mean() > frames[-1][..., 0].mean()
    assert result.metadata.model == "reelforge-animatic-1"


async def test_text_to_video_draws_then_animates(studio: LocalStudio) -> None:
    request = GenerationRequest(
        capability=Capability.TEXT_TO_VIDEO,
        prompt=BRIEF.description,
        width=320,
        height=180,
        duration_s=1.0,
        scene=BRIEF,
        seed=3,
    )
    result = await finish(studio, await studio.submit(request))
    assert result.outputs[0].data is not None
    with av.open(io.BytesIO(result.outputs[0].data), mode="r") as container:
        assert len(list(container.decode(video=0))) == 24


async def test_image_to_image_applies_the_style_preset(studio: LocalStudio) -> None:
    source = png((180, 120, 90))
    request = GenerationRequest(
        capability=Capability.IMAGE_TO_IMAGE,
        prompt="noir",
        style_preset="noir",
        images=(InputImage("image/png", data=source),),
        width=320,
        height=180,
    )
    result = await finish(studio, await studio.submit(request))
    assert result.outputs[0].data is not None
    with Image.open(io.BytesIO(result.outputs[0].data)) as styled:
        assert styled.size == (320, 180)
        assert styled.convert("RGB").getpixel((10, 10)) != (180, 120, 90)
    assert result.metadata.model == "reelforge-filter-1"


async def test_bad_requests_are_refused_before_any_work(studio: LocalStudio) -> None:
    base = {"capability": Capability.TEXT_TO_IMAGE, "prompt": "x"}
    with pytest.raises(InvalidInput) as unknown_option:
        await studio.submit(GenerationRequest(**base, options={"sampler": "euler"}))  # type: ignore[arg-type]
    assert unknown_option.value.details["fields"][0]["field"] == "sampler"
    with pytest.raises(InvalidInput, match="at most 1280x720"):
        await studio.submit(GenerationRequest(**base, width=1920, height=1080))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="image bytes"):
        await studio.submit(
            GenerationRequest(
                capability=Capability.IMAGE_TO_IMAGE,
                prompt="x",
                images=(InputImage("image/png", url="https://example.com/a.png"),),
            )
        )


async def test_cancel_and_unknown_jobs(studio: LocalStudio) -> None:
    request = GenerationRequest(
        capability=Capability.TEXT_TO_VIDEO,
        prompt="long",
        width=320,
        height=180,
        duration_s=20.0,
    )
    handle = await studio.submit(request)
    await studio.cancel(handle)
    await asyncio.sleep(0)
    assert isinstance(await studio.status(handle), Canceled)
    stranger = JobHandle(provider="local", request_id="not-a-job", model="m")
    state = await studio.status(stranger)
    assert isinstance(state, Failed)
    assert state.error.code == "LOCAL_STUDIO_ERROR"
