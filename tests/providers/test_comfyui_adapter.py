"""The ComfyUI adapter against its emulator: bindings, the server check, progress from the
websocket, cancel reaching the queue or /interrupt, and the typed errors of a refused node, a
server that is down and a prompt lost to a restart."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from pydantic import ValidationError

from fixtures import emulator as emulator_fixtures
from fixtures.comfyui import WORKFLOWS, comfyui_settings
from fixtures.emulator import EmulatorControl
from reelforge.errors import ProviderUnavailable
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
from reelforge.providers.comfyui import (
    ComfyUINodeError,
    ComfyUIPromptLost,
    ComfyUIProvider,
    ComfyUIRejectedNode,
    ComfyUISettings,
    ComfyUIWorkflowError,
)
from reelforge.providers.registry import ProviderRegistry
from reelforge.settings import Settings

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
async def comfy(
    http: httpx.AsyncClient, emulator: EmulatorControl
) -> AsyncIterator[ComfyUIProvider]:
    provider = ComfyUIProvider(
        ComfyUISettings(**comfyui_settings(emulator.base_url)), ProviderDeps(http, {})
    )
    yield provider
    await provider.aclose()


def still(**fields: Any) -> GenerationRequest:
    return GenerationRequest(Capability.TEXT_TO_IMAGE, "A lighthouse at dawn", **fields)


def png() -> InputImage:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 18), (10, 80, 200)).save(buffer, format="PNG")
    return InputImage(content_type="image/png", data=buffer.getvalue())


async def settle(provider: ComfyUIProvider, handle: JobHandle) -> tuple[JobState, list[JobState]]:
    seen: list[JobState] = []
    async with asyncio.timeout(20):
        while True:
            state = await provider.status(handle)
            seen.append(state)
            if isinstance(state, Succeeded | Failed | Canceled):
                return state, seen
            await asyncio.sleep(0.05)


async def sent_graph(http: httpx.AsyncClient, emulator: EmulatorControl) -> dict[str, Any]:
    """The graph the server ran (its history holds it, as ComfyUI's does)."""
    [(_, entry)] = (await http.get(f"{emulator.base_url}/comfyui/history")).json().items()
    graph: dict[str, Any] = entry["prompt"][2]
    return graph


# -- the workflow is bound and sent -----------------------------------------------------------


async def test_parameters_land_in_the_bound_inputs(
    comfy: ComfyUIProvider, emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    request = still(negative_prompt="fog", seed=5, width=640, height=360, steps=3)
    state, _ = await settle(comfy, await comfy.submit(request))
    assert isinstance(state, Succeeded)
    assert state.outputs[0].data is not None
    assert state.outputs[0].data.startswith(b"\x89PNG")
    assert state.cost_usd == 0
    assert state.metadata.extra["gpu_time_ms"] is not None
    graph = await sent_graph(http, emulator)
    assert graph["6"]["inputs"]["text"] == "A lighthouse at dawn"
    assert graph["7"]["inputs"]["text"] == "fog"
    assert (graph["3"]["inputs"]["seed"], graph["3"]["inputs"]["steps"]) == (5, 3)
    assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"]) == (640, 360)


async def test_an_image_to_video_prompt_uploads_its_frame_and_sets_the_frames(
    comfy: ComfyUIProvider, emulator: EmulatorControl, http: httpx.AsyncClient
) -> None:
    request = GenerationRequest(
        Capability.IMAGE_TO_VIDEO, "Push in", images=(png(),), duration_s=2.0
    )
    state, _ = await settle(comfy, await comfy.submit(request))
    assert isinstance(state, Succeeded)
    assert state.outputs[0].data is not None
    assert state.outputs[0].data[4:8] == b"ftyp"
    graph = await sent_graph(http, emulator)
    assert graph["6"]["inputs"]["text"] == "Push in"
    assert graph["14"]["inputs"]["length"] == 32  # 2 s at 16 fps
    assert graph["10"]["inputs"]["image"].startswith("reelforge-")
    calls = [c["operation"] for c in (await emulator.ledger("comfyui"))["calls"]]
    assert "upload" in calls


async def test_progress_reaches_the_running_state(
    comfy: ComfyUIProvider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=1.5, queue_s=0.05)
    _, seen = await settle(comfy, await comfy.submit(still(steps=8)))
    progress = [s.progress for s in seen if isinstance(s, Running) and s.progress is not None]
    assert progress, seen
    assert all(0 < p <= 1 for p in progress)
    assert any(s.logs and "of 8" in s.logs[0] for s in seen if isinstance(s, Running))


# -- cancel -----------------------------------------------------------------------------------


async def test_cancel_of_a_running_prompt_reaches_interrupt(
    comfy: ComfyUIProvider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=10.0, queue_s=0.05)
    handle = await comfy.submit(still())
    async with asyncio.timeout(10):
        while not isinstance(await comfy.status(handle), Running):
            await asyncio.sleep(0.05)
    await comfy.cancel(handle)
    state, _ = await settle(comfy, handle)
    assert isinstance(state, Canceled)
    calls = [c["operation"] for c in (await emulator.ledger("comfyui"))["calls"]]
    assert "interrupt" in calls


async def test_cancel_of_a_pending_prompt_deletes_it_from_the_queue(
    comfy: ComfyUIProvider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=10.0, queue_s=10.0)
    handle = await comfy.submit(still())
    await comfy.cancel(handle)
    state, _ = await settle(comfy, handle)
    assert isinstance(state, Canceled)
    calls = [c for c in (await emulator.ledger("comfyui"))["calls"] if c["method"] == "POST"]
    assert [c["operation"] for c in calls] == ["submit", "cancel"]


# -- typed errors -----------------------------------------------------------------------------


def test_a_binding_that_names_no_node_is_refused_with_the_settings(tmp_path: Path) -> None:
    section = {
        "workflows": {
            "text_to_image": {
                "file": str(WORKFLOWS / "text_to_image.json"),
                "bindings": {"prompt": "Prompt Box.text"},
            }
        }
    }
    with pytest.raises(ValidationError, match="no node 'Prompt Box'"):
        ComfyUISettings(**section)


def test_a_workflow_in_the_editor_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ui.json"
    path.write_text(json.dumps({"nodes": [], "links": []}))
    with pytest.raises(ValidationError, match="Save \\(API Format\\)"):
        ComfyUISettings(workflows={"text_to_image": {"file": str(path)}})


async def test_a_node_class_the_server_lacks_is_refused_naming_the_node(
    http: httpx.AsyncClient, emulator: EmulatorControl, tmp_path: Path
) -> None:
    graph = json.loads((WORKFLOWS / "text_to_image.json").read_text())
    graph["30"] = {"class_type": "UpscaleWithMagic", "inputs": {}, "_meta": {"title": "Upscale"}}
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(graph))
    section = comfyui_settings(emulator.base_url) | {
        "workflows": {"text_to_image": {"file": str(path)}}
    }
    comfy = ComfyUIProvider(ComfyUISettings(**section), ProviderDeps(http, {}))
    with pytest.raises(ComfyUIWorkflowError) as raised:
        await comfy.submit(still())
    assert "node 30 ('Upscale')" in raised.value.message
    assert "UpscaleWithMagic" in raised.value.message
    calls = [c["operation"] for c in (await emulator.ledger("comfyui"))["calls"]]
    assert calls == ["object_info"]


async def test_a_capability_without_a_workflow_is_a_configuration_error(
    http: httpx.AsyncClient, emulator: EmulatorControl
) -> None:
    section = comfyui_settings(emulator.base_url)
    section["workflows"] = {"text_to_image": section["workflows"]["text_to_image"]}
    comfy = ComfyUIProvider(ComfyUISettings(**section), ProviderDeps(http, {}))
    request = GenerationRequest(Capability.TEXT_TO_VIDEO, "Pan", duration_s=2.0)
    with pytest.raises(ComfyUIWorkflowError, match=r"workflows\.text_to_video\.file"):
        await comfy.submit(request)


async def test_node_errors_name_the_node(comfy: ComfyUIProvider, emulator: EmulatorControl) -> None:
    await emulator.inject("comfyui", "submit", "invalid_input")
    with pytest.raises(ComfyUIRejectedNode) as raised:
        await comfy.submit(still())
    assert raised.value.details["node_id"] == "4"
    assert raised.value.details["class_type"] == "CheckpointLoaderSimple"
    assert "node 4 (CheckpointLoaderSimple)" in raised.value.message


async def test_an_execution_error_names_the_node(
    comfy: ComfyUIProvider, emulator: EmulatorControl
) -> None:
    await emulator.inject("comfyui", "generate", "failed")
    state, _ = await settle(comfy, await comfy.submit(still()))
    assert isinstance(state, Failed)
    assert isinstance(state.error, ComfyUINodeError)
    assert state.error.details["node_id"] == "3"
    assert "KSampler" in state.error.message


async def test_a_server_that_is_down_is_unavailable(http: httpx.AsyncClient) -> None:
    section = comfyui_settings("http://127.0.0.1:9")  # the discard port: nothing listens
    comfy = ComfyUIProvider(ComfyUISettings(**section), ProviderDeps(http, {}))
    with pytest.raises(ProviderUnavailable) as raised:
        await comfy.submit(still())
    assert raised.value.provider == "comfyui"
    assert raised.value.details["reason"] == "not_connected"
    await comfy.aclose()


async def test_a_prompt_lost_to_a_restart_is_not_done(
    comfy: ComfyUIProvider, emulator: EmulatorControl
) -> None:
    await emulator.configure(latency_s=10.0, queue_s=0.05)
    handle = await comfy.submit(still())
    await emulator.reset()  # the server restarts: its queue and history are gone
    state = await comfy.status(handle)
    assert isinstance(state, Failed)
    assert isinstance(state.error, ComfyUIPromptLost)
    assert state.error.details["reason"] == "prompt_lost"
    assert "restarted" in state.error.message


async def test_start_up_names_what_the_server_lacks_and_a_server_that_is_down(
    http: httpx.AsyncClient, emulator: EmulatorControl, tmp_path: Path
) -> None:
    graph = json.loads((WORKFLOWS / "text_to_image.json").read_text())
    graph["9"]["class_type"] = "SaveImageWebsocket"
    path = tmp_path / "ws-save.json"
    path.write_text(json.dumps(graph))
    section = comfyui_settings(emulator.base_url)
    section["workflows"]["text_to_image"] = {"file": str(path), "bindings": {"outputs": ["9"]}}

    def registry(comfyui: dict[str, Any]) -> ProviderRegistry:
        settings = Settings(
            data_dir=tmp_path / "data", auth={"enabled": False}, providers={"comfyui": comfyui}
        )
        return ProviderRegistry(settings, ProviderDeps(http, {}))

    refused = await registry(section).check_setups()
    assert list(refused) == ["comfyui"]
    assert isinstance(refused["comfyui"], ComfyUIWorkflowError)
    assert "node 9 ('Save Image') needs class 'SaveImageWebsocket'" in refused["comfyui"].message
    down = await registry(comfyui_settings("http://127.0.0.1:9")).check_setups()
    assert isinstance(down["comfyui"], ProviderUnavailable)
    assert await registry(comfyui_settings(emulator.base_url)).check_setups() == {}
