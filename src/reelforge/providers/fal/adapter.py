"""The fal.ai adapter: its settings, and submit / status / result / cancel / run / webhooks.

Wire format per the provider reference §1: ``POST {queue}/{model}`` answers the request id and
the status / response / cancel URLs, which are then used as given; the status is parsed in
:func:`reelforge.providers.fal.wire.parse_status` and every failure is translated in
:func:`reelforge.providers.fal.wire.fal_error`. Webhooks are ED25519-signed; the keys come from
fal's JWKS through the injected client. The key is read from ``FAL_KEY`` at each call and goes
nowhere but the ``Authorization`` header.

A submission cut off by a crash is looked up in fal's platform API (``find_submissions``, in
:mod:`.lookup`), which lists requests only once they have ended.

Reference images (a character's look, :attr:`GenerationRequest.references`): up to
:data:`~reelforge.providers.fal.models.MAX_REFERENCES` per text-to-image request, sent as
``image_urls`` to FLUX.1 Kontext [pro] multi (``fal-ai/flux-pro/kontext/multi``; its wire facts,
with their sources, are in :mod:`reelforge.providers.fal.models`). fal's text-to-image models
(FLUX dev, pro, schnell) take no reference, so a request that carries references and names
one of them goes to ``providers.fal.reference_model`` instead (Kontext multi by default):
:meth:`FalProvider.model_for_references` says so before the request is sent, so plans and
prices show the model that is really called, and the handle names it.

Settings (``providers.fal``): ``base_url`` is a root serving fal's hosts under one prefix (a
gateway or the emulator: ``{base_url}/queue``, ``{base_url}/run``, ``{base_url}/api/v1``,
``{base_url}/rest/.well-known/jwks.json``); ``queue_base_url``, ``run_base_url``,
``platform_base_url`` (the platform API with its version, ``https://api.fal.ai/v1``) and
``jwks_url`` override each host, and default to fal's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from reelforge import __version__
from reelforge.errors import ConfigurationError, ProviderError, Unauthorized
from reelforge.log import get_logger
from reelforge.providers.base import (
    Capability,
    CostEstimate,
    Failed,
    GenerationRequest,
    JobHandle,
    JobState,
    PriceQuery,
    Provider,
    ProviderDeps,
    ProviderOptions,
    ProviderSettings,
    SubmissionLookup,
    Succeeded,
    WebhookEvent,
)
from reelforge.providers.fal.lookup import find_requests
from reelforge.providers.fal.models import (
    KONTEXT_MULTI,
    MAX_REFERENCES,
    MODEL_ALIASES,
    PRICE_FACTS,
    FalOptions,
    FalPrice,
    build_arguments,
    built_in_entries,
    price_for,
    request_units,
    shape_arguments,
    succeeded_from,
    takes_references,
)
from reelforge.providers.fal.wire import (
    FAILURES,
    KEY_ENV,
    PROVIDER_ID,
    SPEC_KEY_ENVS,
    Completed,
    FalError,
    FalFailure,
    fal_error,
    loads_json,
    parse_status,
    webhook_failure,
)
from reelforge.providers.http import ProviderHttp, invalid_url, malformed_body
from reelforge.providers.pricing import PriceEntry, price_entry
from reelforge.providers.webhook_security import (
    Ed25519KeySet,
    WebhookGuard,
    header,
    webhook_refused,
)

__all__ = ["FalProvider", "FalSettings"]

log = get_logger(__name__)

_FAL_HOSTS = {
    "queue": "https://queue.fal.run",
    "run": "https://fal.run",
    "platform": "https://api.fal.ai/v1",
    "jwks": "https://rest.fal.ai/.well-known/jwks.json",
}
_UNDER_BASE_URL = {
    "queue": "/queue",
    "run": "/run",
    "platform": "/api/v1",
    "jwks": "/rest/.well-known/jwks.json",
}
Host = Literal["queue", "run", "platform", "jwks"]
_HTTP = ProviderHttp(
    PROVIDER_ID, fal_error, invalid_url(PROVIDER_ID, "fal", "check the providers.fal settings")
)


class FalSettings(ProviderSettings):
    """``providers.fal``: hosts, webhook checks and the model used for each capability."""

    queue_base_url: str | None = None
    run_base_url: str | None = None
    platform_base_url: str | None = Field(
        default=None, description="fal's platform API with its version (request listings)"
    )
    jwks_url: str | None = None
    webhook_tolerance_s: float = Field(default=300.0, gt=0)
    jwks_cache_s: float = Field(default=3600.0, gt=0, le=86_400)
    text_to_image_model: str = "fal-ai/flux/dev"
    image_to_image_model: str = "fal-ai/flux/dev/image-to-image"
    image_to_video_model: str = "fal-ai/veo3.1/image-to-video"
    text_to_video_model: str = "fal-ai/veo3.1"
    reference_model: str = Field(
        default=KONTEXT_MULTI,
        description="Where a text-to-image request with reference images goes when its model "
        "takes none (a Kontext endpoint with image_urls)",
    )
    prices: dict[str, FalPrice] = Field(
        default_factory=dict, description="Prices for models the built-in table lacks"
    )

    def host(self, which: Host) -> str:
        """The base URL of one of fal's hosts: explicit setting, else under base_url, else fal's."""
        explicit = {
            "queue": self.queue_base_url,
            "run": self.run_base_url,
            "platform": self.platform_base_url,
            "jwks": self.jwks_url,
        }[which]
        if explicit:
            return explicit.rstrip("/")
        if self.base_url:
            return self.base_url.rstrip("/") + _UNDER_BASE_URL[which]
        return _FAL_HOSTS[which]

    def model_for(self, capability: Capability) -> str:
        return {
            Capability.TEXT_TO_IMAGE: self.text_to_image_model,
            Capability.IMAGE_TO_IMAGE: self.image_to_image_model,
            Capability.IMAGE_TO_VIDEO: self.image_to_video_model,
            Capability.TEXT_TO_VIDEO: self.text_to_video_model,
        }[capability]


class FalProvider(Provider[FalSettings]):
    """fal.ai's queue API (submit / status / result / cancel), sync run and webhooks."""

    id: ClassVar[str] = PROVIDER_ID
    display_name: ClassVar[str] = "fal.ai"
    vendor_name: ClassVar[str] = "fal"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    options_model: ClassVar[type[ProviderOptions]] = FalOptions
    settings_model: ClassVar[type[ProviderSettings]] = FalSettings
    key_env: ClassVar[str | None] = KEY_ENV
    key_env_aliases: ClassVar[tuple[str, ...]] = SPEC_KEY_ENVS
    error_class: ClassVar[type[ProviderError]] = FalError
    aliases: ClassVar[frozenset[str]] = frozenset({"fal_ai", "fal.ai", "fal-ai", "falai"})
    model_aliases: ClassVar[Mapping[str, str]] = MODEL_ALIASES
    sends_webhooks: ClassVar[bool] = True
    finds_submissions: ClassVar[bool] = True
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.TEXT_TO_IMAGE: MAX_REFERENCES}
    )

    def __init__(
        self, settings: FalSettings, deps: ProviderDeps, *, guard: WebhookGuard | None = None
    ) -> None:
        super().__init__(settings, deps)
        self._guard = guard or WebhookGuard(PROVIDER_ID, tolerance_s=settings.webhook_tolerance_s)
        self._keys = Ed25519KeySet(
            PROVIDER_ID, self._fetch_jwks, cache_s=settings.jwks_cache_s, error_class=FalError
        )

    # -- jobs --------------------------------------------------------------------------------

    async def submit(self, request: GenerationRequest) -> JobHandle:
        model, arguments = self._prepare(request)
        params = {"fal_webhook": request.webhook_url} if request.webhook_url else None
        body = await self._call(
            "submit",
            "POST",
            f"{self.settings.host('queue')}/{model}",
            json=arguments,
            params=params,
        )
        try:
            request_id = str(body["request_id"])
            urls = {name: str(body[f"{name}_url"]) for name in ("status", "response", "cancel")}
        except (KeyError, TypeError):
            raise fal_error(
                "submit", FalFailure("fal's submit answer lacks the request URLs.")
            ) from None
        handle = JobHandle(provider=PROVIDER_ID, request_id=request_id, model=model, urls=urls)
        queue = httpx.URL(self.settings.host("queue"))
        if any(_origin(httpx.URL(url)) != _origin(queue) for url in urls.values()):
            # The key goes wherever these URLs point: only ever to the queue host we were given.
            handle = JobHandle(provider=PROVIDER_ID, request_id=request_id, model=model)
            log.warning("fal.job.foreign_urls", request_id=request_id)
        log.info("fal.job.submitted", request_id=request_id, model=model)
        return handle

    async def find_submissions(self, lookup: SubmissionLookup) -> list[JobHandle]:
        """fal's ended requests with this request's exact input (see :mod:`.lookup`: a request
        still in flight is not listed yet)."""
        model, arguments = self._prepare(lookup.request)
        platform = self.settings.host("platform")

        async def list_page(path: str, params: Mapping[str, str]) -> Any:
            return await self._call("list_requests", "GET", platform + path, params=params)

        return await find_requests(list_page, model, arguments, lookup.submitted_after)

    async def run(self, request: GenerationRequest) -> Succeeded:
        """Generate through fal's synchronous endpoint (no queue, no retries at fal)."""
        model, arguments = self._prepare(request)
        body = await self._call(
            "run", "POST", f"{self.settings.host('run')}/{model}", json=arguments
        )
        try:
            cost: Decimal | None = self.estimate_cost(request).amount_usd
        except ConfigurationError:
            cost = None
        return succeeded_from(model, body, cost=cost)

    async def status(self, handle: JobHandle) -> JobState:
        body = await self._call("status", "GET", self._url(handle, "status"), params={"logs": "1"})
        state = parse_status(body)
        if not isinstance(state, Completed):
            return state
        output = await self._call("result", "GET", self._url(handle, "response"))
        if not isinstance(output, dict):
            raise malformed_body(FAILURES, "result", transient=True)
        try:
            return succeeded_from(handle.model, output, inference_time_s=state.inference_time_s)
        except ProviderError as exc:
            return Failed(exc)

    async def cancel(self, handle: JobHandle) -> None:
        try:
            await self._call("cancel", "PUT", self._url(handle, "cancel"))
        except ProviderError as exc:
            outcome = exc.details.get("vendor_status")
            if outcome not in ("ALREADY_COMPLETED", "NOT_FOUND"):
                raise
            log.info("fal.job.cancel_noop", request_id=handle.request_id, outcome=outcome)
            return
        log.info("fal.job.canceled", request_id=handle.request_id)

    def default_model(self, capability: Capability) -> str:
        return self.settings.model_for(capability)

    def model_for_references(self, model: str | None, capability: Capability) -> str | None:
        """``model`` if it takes references (Kontext multi), else ``reference_model``."""
        wanted = model or self.default_model(capability)
        return wanted if takes_references(wanted) else self.settings.reference_model

    def priced(self, query: PriceQuery) -> CostEstimate:
        options = self.validate_options(query.options)
        assert isinstance(options, FalOptions)
        model = query.model or self.default_model(query.capability)
        if query.reference_count:
            model = self.model_for_references(model, query.capability) or model
        arguments = shape_arguments(
            model, query.capability, query.width, query.height, query.duration_s, options
        )
        price = price_for(model, arguments, self.settings.prices)
        if price is None:
            raise ConfigurationError(
                f"No price is known for fal model {model!r}; add one under providers.fal.prices.",
                details={"provider": PROVIDER_ID, "model": model, "known": sorted(PRICE_FACTS)},
            )
        units, unit_text = request_units(price.unit, arguments, query.duration_s)
        amount = (price.usd * units).quantize(Decimal("0.0001"))
        basis = f"{units} {unit_text} x ${price.usd}/{price.unit} ({price.source})"
        return CostEstimate(provider=PROVIDER_ID, model=model, amount_usd=amount, basis=basis)

    def price_entries(self) -> list[PriceEntry]:
        """The built-in facts (Veo 3.1 by audio and resolution), then the settings' prices."""
        origin = "providers.fal.prices"
        return built_in_entries() + [
            price_entry(PROVIDER_ID, model, price.unit, price.usd, price.source, origin)
            for model, price in self.settings.prices.items()
        ]

    # -- webhooks ----------------------------------------------------------------------------

    async def verify_webhook_async(self, headers: Mapping[str, str], body: bytes) -> None:
        """Verify a callback, fetching fal's keys first if needed: the method to call."""
        await self._keys.load()
        try:
            self.verify_webhook(headers, body)
        except Unauthorized as exc:
            # fal may have rotated its keys since we cached them: refetch once, then decide.
            if exc.details.get("reason") != "bad_signature" or not await self._keys.load(
                force=True
            ):
                raise
            self.verify_webhook(headers, body)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check signature, timestamp window and replay against the keys already loaded."""
        request_id = header(headers, "X-Fal-Webhook-Request-Id")
        user_id = header(headers, "X-Fal-Webhook-User-Id")
        timestamp = header(headers, "X-Fal-Webhook-Timestamp")
        signature = header(headers, "X-Fal-Webhook-Signature")
        if not (request_id and user_id and timestamp and signature):
            raise webhook_refused(
                PROVIDER_ID, "missing_headers", "The webhook lacks fal's headers."
            )
        if not self._keys.loaded:
            raise webhook_refused(PROVIDER_ID, "no_keys", "fal's webhook keys are not loaded yet.")
        self._guard.check_timestamp(timestamp)
        digest = hashlib.sha256(body).hexdigest()
        message = f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()
        try:
            valid = self._keys.verify(bytes.fromhex(signature), message)
        except ValueError:
            valid = False
        if not valid:
            raise webhook_refused(
                PROVIDER_ID, "bad_signature", "The webhook's signature is invalid."
            )
        self._guard.check_not_replayed(f"{request_id}:{signature.lower()}")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The event of a verified callback (verify it first). The model is not in fal's
        callback: the metadata says ``unknown``; the caller knows it from the request id."""
        payload = loads_json(body, "webhook")
        if not isinstance(payload, dict) or "request_id" not in payload:
            raise fal_error("webhook", FalFailure("fal's webhook body has no request_id."))
        request_id = str(payload["request_id"])
        state: JobState
        if payload.get("status") == "OK":
            try:
                state = succeeded_from("unknown", payload.get("payload"))
            except ProviderError as exc:
                state = Failed(exc)
        else:
            state = Failed(fal_error("webhook", webhook_failure(payload)))
        return WebhookEvent(
            provider=PROVIDER_ID,
            request_id=request_id,
            state=state,
            event_id=header(headers, "X-Fal-Webhook-Request-Id") or request_id,
            raw=payload,
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _prepare(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        options = self.check_request(request)
        assert isinstance(options, FalOptions)
        self.api_key()
        model = request.model or self.default_model(request.capability)
        if request.references:
            model = self.model_for_references(model, request.capability) or model
        return model, build_arguments(model, request, options)

    def _url(self, handle: JobHandle, name: str) -> str:
        url = handle.urls.get(name)
        if url:
            return url
        parts = handle.model.split("/")
        app = "/".join(parts[:3] if parts[0] in ("workflows", "comfy") else parts[:2])
        base = f"{self.settings.host('queue')}/{app}/requests/{handle.request_id}"
        return base if name == "response" else f"{base}/{name}"

    async def _fetch_jwks(self) -> Any:
        body = await self._call("jwks", "GET", self.settings.host("jwks"), authenticated=False)
        log.info("fal.jwks.fetched")
        return body

    async def _call(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> Any:
        headers = {"User-Agent": f"reelforge/{__version__}", "Accept": "application/json"}
        if authenticated:
            headers["Authorization"] = f"Key {self.api_key()}"
        response = await _HTTP.send(
            self.deps.http,
            operation,
            method,
            url,
            headers=headers,
            timeout_s=self.settings.timeout_s,
            json=json,
            params=params,
        )
        return loads_json(response.content, operation)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port
