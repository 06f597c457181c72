"""The providers the contract suite runs, one :class:`ProviderCase` each.

Adding a provider to the suite is adding one case to :data:`PROVIDER_CASES`: where its emulator
is mounted (its settings section), its key variable, its vendor error class, the names of its
operations in the emulator's fault rules, and how to verify a webhook and run synchronously, if
it can.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fixtures.comfyui import comfyui_settings
from reelforge.errors import ProviderError, ProviderRejectedInput
from reelforge.providers.base import Capability, Provider, Succeeded
from reelforge.providers.base import GenerationRequest as Request
from reelforge.providers.character_library import CharacterLibraryError, CharacterLibraryProvider
from reelforge.providers.comfyui import ComfyUIError
from reelforge.providers.fal import FalError, FalProvider
from reelforge.providers.google import GoogleError, GoogleProvider
from reelforge.providers.leonardo import LeonardoError
from reelforge.providers.replicate import ReplicateError, ReplicateProvider
from reelforge.providers.runway import RunwayError

__all__ = ["PROVIDER_CASES", "ProviderCase"]

Verifier = Callable[[Provider, Mapping[str, str], bytes], Awaitable[None]]
SyncRunner = Callable[[Provider, Request], Awaitable[Succeeded]]


@dataclass(frozen=True, slots=True)
class ProviderCase:
    """How the contract suite drives one provider against the emulator."""

    id: str
    #: None: the provider takes no key (the missing-key test is skipped).
    key_env: str | None
    #: A key no log, error or ledger may ever show (the emulator accepts any key).
    dummy_key: str
    #: ``providers.<id>`` settings, given the emulator's base URL.
    settings: Callable[[str], dict[str, Any]]
    vendor_error: type[ProviderError]
    #: Contract operation -> the emulator's operation name for fault rules.
    operations: Mapping[str, str] = field(
        default_factory=lambda: {
            "submit": "submit",
            "status": "status",
            "result": "result",
            "cancel": "cancel",
        }
    )
    video: Capability | None = Capability.IMAGE_TO_VIDEO
    verify_webhook: Verifier | None = None
    run_sync: SyncRunner | None = None
    #: False: stills are answered synchronously (submit returns a finished job, a failure is
    #: raised by submit, and status makes no call).
    queued: bool = True
    #: False: the vendor has no cancel call and ``cancel`` is a documented no-op.
    cancels: bool = True
    #: Submit fault kind -> the error expected instead of the suite's (None: the vendor error),
    #: where the provider's own contract says otherwise.
    fault_overrides: Mapping[str, type[ProviderError] | None] = field(default_factory=dict)
    #: True: the provider has no price (an internal service); its estimate is zero.
    free: bool = False
    #: True: the vendor documents a listing and the adapter looks cut-off submissions up.
    finds_submissions: bool = False
    #: False: outputs come back as bytes (no output URL for file faults to hit).
    output_urls: bool = True


async def _verify_fal(provider: Provider, headers: Mapping[str, str], body: bytes) -> None:
    assert isinstance(provider, FalProvider)
    await provider.verify_webhook_async(headers, body)


async def _run_fal(provider: Provider, request: Request) -> Succeeded:
    assert isinstance(provider, FalProvider)
    return await provider.run(request)


FAL = ProviderCase(
    id="fal",
    key_env="FAL_KEY",
    dummy_key="fal-contract-key-5e1d7c0b9a",
    settings=lambda base_url: {"base_url": f"{base_url}/fal", "timeout_s": 5.0},
    vendor_error=FalError,
    verify_webhook=_verify_fal,
    run_sync=_run_fal,
    finds_submissions=True,
)


async def _verify_replicate(provider: Provider, headers: Mapping[str, str], body: bytes) -> None:
    assert isinstance(provider, ReplicateProvider)
    await provider.verify_webhook_async(headers, body)


async def _run_replicate(provider: Provider, request: Request) -> Succeeded:
    assert isinstance(provider, ReplicateProvider)
    return await provider.run(request)


_POLLED = {"submit": "submit", "status": "status", "result": "status", "cancel": "cancel"}

REPLICATE = ProviderCase(
    id="replicate",
    key_env="REPLICATE_API_TOKEN",
    dummy_key="r8_contract-token-3f9a61c2d8",
    settings=lambda base_url: {"base_url": f"{base_url}/replicate", "timeout_s": 5.0},
    vendor_error=ReplicateError,
    operations=_POLLED,
    video=None,
    verify_webhook=_verify_replicate,
    run_sync=_run_replicate,
    finds_submissions=True,
)

RUNWAY = ProviderCase(
    id="runway",
    key_env="RUNWAYML_API_SECRET",
    dummy_key="key_runway-contract-7c42e0a91b",
    settings=lambda base_url: {"base_url": f"{base_url}/runway", "timeout_s": 5.0},
    vendor_error=RunwayError,
    operations=_POLLED,
)


async def _run_google(provider: Provider, request: Request) -> Succeeded:
    assert isinstance(provider, GoogleProvider)
    return await provider.run(request)


async def _run_character_library(provider: Provider, request: Request) -> Succeeded:
    assert isinstance(provider, CharacterLibraryProvider)
    return await provider.run(request)


GOOGLE = ProviderCase(
    id="google",
    key_env="GEMINI_API_KEY",
    dummy_key="AIza-contract-key-0b7e25d4c1",
    settings=lambda base_url: {"base_url": f"{base_url}/google", "timeout_s": 5.0},
    vendor_error=GoogleError,
    operations={"submit": "generate_content", "status": "operation", "result": "operation"},
    run_sync=_run_google,
    queued=False,
    cancels=False,
    output_urls=False,
)

# Leonardo has no USD rate on record: prices are configured (see the adapter), so is this one.
_LEONARDO_PRICES = {
    kind: {"unit": kind, "usd": "0.01", "source": "contract case price, 2026"}
    for kind in ("image", "video")
}
LEONARDO = ProviderCase(
    id="leonardo",
    key_env="LEONARDO_API_KEY",
    dummy_key="leo-contract-key-9d3f1a6e27",
    settings=lambda base_url: {
        "base_url": f"{base_url}/leonardo/api/rest/v1",
        "timeout_s": 5.0,
        "prices": _LEONARDO_PRICES,
    },
    vendor_error=LeonardoError,
    operations={
        "submit": "create_generation",
        "status": "get_generation",
        "result": "get_generation",
    },
    cancels=False,
    finds_submissions=True,
)

CHARACTER_LIBRARY = ProviderCase(
    id="character_library",
    key_env=None,
    dummy_key="character-library-takes-no-key-4e8b",
    settings=lambda base_url: {"base_url": f"{base_url}/character_library", "timeout_s": 5.0},
    vendor_error=CharacterLibraryError,
    operations={"submit": "reference_image"},
    video=None,
    run_sync=_run_character_library,
    queued=False,
    cancels=False,
    # The spec: a 500 from the library is surfaced as is, never retried.
    fault_overrides={"http_500": None},
    free=True,
)

COMFYUI = ProviderCase(
    id="comfyui",
    key_env=None,
    dummy_key="comfyui-takes-no-key-2b7d",
    settings=comfyui_settings,
    vendor_error=ComfyUIError,
    operations={"submit": "submit", "status": "status", "result": "status", "cancel": "queue"},
    # ComfyUI has no content moderation of its own: a refusal is a node's rejected input.
    fault_overrides={"content_rejected": ProviderRejectedInput},
    free=True,
    finds_submissions=True,
    output_urls=False,
)

PROVIDER_CASES: tuple[ProviderCase, ...] = (
    FAL,
    REPLICATE,
    RUNWAY,
    GOOGLE,
    LEONARDO,
    CHARACTER_LIBRARY,
    COMFYUI,
)
