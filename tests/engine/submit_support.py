"""Toy providers for the submit-window tests, over one toy vendor the test controls.

The vendor is the provider's side of the wire: every submission it accepts is billed (they all
finish at once, with a flat PNG). The test makes the vendor accept a submission and then lose
its answer the way a crash does (:class:`ProcessDied`, a ``BaseException`` as a kill would be:
nothing of ours handles it), or fail after accepting (a timeout), and decides what the vendor's
listing shows. Four adapters differ only in what the vendor offers to find a lost submission:

- ``toy_blind``: nothing (no callbacks, no listing), like Runway;
- ``toy_lookup``: a listing (``finds_submissions``), like Replicate;
- ``toy_hook``: callbacks (``sends_webhooks``: a JSON body ``{"request_id", "status",
  "cost_usd"}``, every callback authentic), like fal without its listing;
- ``toy_sync``: answers synchronously and holds the result (``held_result``), like Google stills.

Imported as ``engine.submit_support`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from providers.toy_provider import ToyProvider, ToySettings
from reelforge.errors import ReelforgeError
from reelforge.providers.base import (
    Failed,
    GenerationRequest,
    JobHandle,
    JobState,
    ProviderDeps,
    SubmissionLookup,
    Succeeded,
    WebhookEvent,
)
from reelforge.providers.registry import PROVIDER_CLASSES, ProviderClasses

__all__ = [
    "TOY_WINDOW_CLASSES",
    "BlindToy",
    "HookToy",
    "LookupToy",
    "ProcessDied",
    "SyncToy",
    "ToyVendor",
    "hook_body",
]


class ProcessDied(BaseException):
    """The process died here: no handler of ours runs."""


@dataclass
class Accepted:
    request_id: str
    request: GenerationRequest
    at: float
    state: JobState


@dataclass
class ToyVendor:
    """What the toy vendor accepted (and billed), and how its next answers go wrong."""

    clock: Callable[[], float]
    accepted: list[Accepted] = field(default_factory=list)
    #: The next N accepted submissions lose their answer: the process dies.
    die_after_accept: int = 0
    #: The next accepted submission's answer fails with this (after it was accepted).
    fail_after_accept: ReelforgeError | None = None
    #: The next call fails with this before anything is accepted.
    fail_before_accept: ReelforgeError | None = None
    #: Whether the listing shows accepted submissions yet; it shows none to the first
    #: ``hidden_lookups`` lookups either (a job listed only once it has ended).
    listing: bool = True
    hidden_lookups: int = 0
    lookups: int = 0
    #: Called after accepting, before answering (a callback racing the answer, say).
    on_accept: Callable[[Accepted], Awaitable[None]] | None = None

    @property
    def billed(self) -> list[str]:
        return [a.request_id for a in self.accepted]

    def get(self, request_id: str) -> Accepted | None:
        return next((a for a in self.accepted if a.request_id == request_id), None)


class _VendorToy(ToyProvider):
    """The toy adapter over :attr:`vendor` (set by the test), whatever process it is in."""

    aliases: ClassVar[frozenset[str]] = frozenset()
    vendor: ClassVar[ToyVendor]

    async def submit(self, request: GenerationRequest) -> JobHandle:
        self.check_request(request)
        vendor = type(self).vendor
        if vendor.fail_before_accept is not None:
            error, vendor.fail_before_accept = vendor.fail_before_accept, None
            raise error
        model = request.model or self.default_model(request.capability)
        accepted = Accepted(
            uuid.uuid4().hex, request, vendor.clock(), self._outcome(request, model)
        )
        vendor.accepted.append(accepted)
        if vendor.on_accept is not None:
            await vendor.on_accept(accepted)
        if vendor.die_after_accept:
            vendor.die_after_accept -= 1
            raise ProcessDied
        if vendor.fail_after_accept is not None:
            error, vendor.fail_after_accept = vendor.fail_after_accept, None
            raise error
        return JobHandle(provider=self.id, request_id=accepted.request_id, model=model)

    async def status(self, handle: JobHandle) -> JobState:
        found = type(self).vendor.get(handle.request_id)
        return found.state if found is not None else Failed(self.error("Unknown toy job."))


class BlindToy(_VendorToy):
    id: ClassVar[str] = "toy_blind"


class LookupToy(_VendorToy):
    id: ClassVar[str] = "toy_lookup"
    finds_submissions: ClassVar[bool] = True

    async def find_submissions(self, lookup: SubmissionLookup) -> list[JobHandle]:
        vendor = type(self).vendor
        vendor.lookups += 1
        if not vendor.listing or vendor.lookups <= vendor.hidden_lookups:
            return []
        return [
            JobHandle(provider=self.id, request_id=a.request_id, model=self.settings.still_model)
            for a in vendor.accepted
            if a.request.prompt == lookup.request.prompt and a.at >= lookup.submitted_after - 1
        ]


class HookToy(_VendorToy):
    id: ClassVar[str] = "toy_hook"
    sends_webhooks: ClassVar[bool] = True

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        payload = json.loads(body)
        request_id = str(payload["request_id"])
        found = type(self).vendor.get(request_id)
        state: JobState = Failed(self.error("The toy failed."))
        if payload["status"] == "OK" and found is not None and isinstance(found.state, Succeeded):
            cost = payload.get("cost_usd")
            state = Succeeded(
                outputs=found.state.outputs,
                metadata=found.state.metadata,
                cost_usd=None if cost is None else Decimal(cost),
            )
        return WebhookEvent(
            provider=self.id, request_id=request_id, state=state, event_id=request_id, raw=payload
        )


class SyncToy(_VendorToy):
    id: ClassVar[str] = "toy_sync"

    def held_result(self, handle: JobHandle) -> Succeeded | None:
        found = type(self).vendor.get(handle.request_id)
        if found is None or not isinstance(found.state, Succeeded):
            return None
        # A process holds only what it was answered itself.
        return found.state if handle.request_id in self._answered else None

    async def submit(self, request: GenerationRequest) -> JobHandle:
        handle = await super().submit(request)
        self._answered.add(handle.request_id)
        return handle

    def __init__(self, settings: ToySettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._answered: set[str] = set()


TOY_WINDOW_CLASSES: ProviderClasses = {
    **PROVIDER_CLASSES,
    **{cls.id: cls for cls in (BlindToy, LookupToy, HookToy, SyncToy)},
}


def hook_body(request_id: str, *, ok: bool = True, cost_usd: str | None = None) -> bytes:
    """A ``toy_hook`` callback body."""
    payload: dict[str, object] = {"request_id": request_id, "status": "OK" if ok else "ERROR"}
    if cost_usd is not None:
        payload["cost_usd"] = cost_usd
    return json.dumps(payload).encode()
