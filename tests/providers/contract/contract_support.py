"""What the contract suites share: the case fixture (one run per provider), the adapter factory
built through the real registry, the key-in-logs check, requests and polling helpers.

Test modules import the fixtures by assignment (see :mod:`fixtures.emulator`)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from fixtures import emulator as emulator_fixtures
from fixtures.emulator import CapturedLogs, EmulatorControl
from providers.contract.contract_cases import PROVIDER_CASES, ProviderCase
from reelforge.errors import ReelforgeError
from reelforge.providers.base import (
    TERMINAL_STATES,
    Capability,
    GenerationRequest,
    InputImage,
    JobHandle,
    JobState,
    Provider,
    ProviderDeps,
)
from reelforge.providers.registry import ProviderRegistry
from reelforge.settings import Settings

__all__ = [
    "PNG_MAGIC",
    "AdapterFactory",
    "adapters",
    "assert_no_key",
    "captured_logs",
    "case",
    "clip_request",
    "emulator",
    "emulator_server",
    "fetch",
    "no_key_in_logs",
    "provider",
    "settle",
    "still_request",
]

emulator_server = emulator_fixtures.emulator_server
emulator = emulator_fixtures.emulator
captured_logs = emulator_fixtures.captured_logs

AdapterFactory = Callable[..., Provider]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(params=[pytest.param(case, id=case.id) for case in PROVIDER_CASES])
def case(request: pytest.FixtureRequest) -> ProviderCase:
    param: ProviderCase = request.param
    return param


@pytest.fixture(autouse=True)
def no_key_in_logs(
    case: ProviderCase, captured_logs: CapturedLogs, capsys: pytest.CaptureFixture[str]
) -> Iterator[None]:
    yield
    printed = capsys.readouterr()
    assert case.dummy_key not in captured_logs.text() + printed.out + printed.err


@pytest.fixture
async def adapters(
    case: ProviderCase, emulator: EmulatorControl, tmp_path: Path
) -> AsyncIterator[AdapterFactory]:
    """Builds the case's adapter through the registry (``environ`` and settings overridable)."""
    registries: list[ProviderRegistry] = []
    async with httpx.AsyncClient(trust_env=False) as http:

        def build(environ: dict[str, str] | None = None, **overrides: Any) -> Provider:
            section = case.settings(emulator.base_url) | overrides
            settings = Settings(
                data_dir=tmp_path / "data", auth={"enabled": False}, providers={case.id: section}
            )
            default = {case.key_env: case.dummy_key} if case.key_env else {}
            env = default if environ is None else environ
            registry = ProviderRegistry(settings, ProviderDeps(http=http, environ=env))
            registries.append(registry)
            return registry.get(case.id)

        yield build
        for registry in registries:
            await registry.aclose()


@pytest.fixture
def provider(adapters: AdapterFactory) -> Provider:
    return adapters()


def still_request(**fields: Any) -> GenerationRequest:
    return GenerationRequest(
        capability=Capability.TEXT_TO_IMAGE,
        prompt="A lighthouse on a cliff at dawn, storyboard frame",
        width=1024,
        height=576,
        seed=11,
        **fields,
    )


def clip_request(capability: Capability) -> GenerationRequest:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (40, 90, 160)).save(buffer, format="PNG")
    images = (InputImage(content_type="image/png", data=buffer.getvalue()),)
    return GenerationRequest(
        capability=capability,
        prompt="The camera pushes in on the lighthouse",
        width=1280,
        height=720,
        duration_s=4.0,
        images=images if capability.needs_image else (),
    )


async def settle(
    provider: Provider, handle: JobHandle, timeout_s: float = 15.0
) -> tuple[JobState, list[JobState]]:
    """Poll until the job ends; the final state and every state seen."""
    seen: list[JobState] = []
    async with asyncio.timeout(timeout_s):
        while True:
            state = await provider.status(handle)
            seen.append(state)
            if isinstance(state, TERMINAL_STATES):
                return state, seen
            await asyncio.sleep(0.05)


async def fetch(url: str) -> bytes:
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.get(url)
        response.raise_for_status()
        return response.content


def assert_no_key(case: ProviderCase, error: ReelforgeError) -> None:
    assert case.dummy_key not in f"{error} {error.to_payload()!r} {error!r}"
