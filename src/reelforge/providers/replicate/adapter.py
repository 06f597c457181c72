"""The Replicate adapter: its settings, and submit / run / status / cancel / webhooks.

Wire format per the provider reference §2. A model reference ``owner/name`` goes to the official
models endpoint ``POST /v1/models/{owner}/{name}/predictions``; ``owner/name:<version>`` and a
bare 64-hex version id go to ``POST /v1/predictions`` with ``version``. A text-to-image request
carrying a character's reference images goes to a FLUX Kontext model (settings
``reference_model``, ``two_reference_model``; wire facts in :mod:`.models`).
:meth:`ReplicateProvider.run` sends ``Prefer: wait=N`` and returns if the prediction ends within
N seconds (otherwise :class:`~reelforge.errors.ProviderPending`, the prediction still alive).
Status, get, cancel and webhook bodies are the same prediction object, parsed in
:func:`reelforge.providers.replicate.wire.parse_prediction`; every failure goes through
:func:`reelforge.providers.replicate.wire.replicate_error`. The token is read from
``REPLICATE_API_TOKEN`` at each call and goes nowhere but the ``Authorization`` header; request
URLs are always built from the configured API root, never taken from an answer. A prediction
cut off by a crash is looked up in ``GET /v1/predictions`` (``find_submissions``, in
:mod:`.lookup`). The webhook URL is sent as given, query string and all.

Settings (``providers.replicate``): ``base_url`` is the API root *without* ``/v1`` (as the
official client takes it; a trailing ``/v1`` is dropped), default ``https://api.replicate.com``.
Webhooks are Standard Webhooks signatures (:mod:`.signature`); the ``whsec_`` secret is read at
each check from the environment variable named by ``webhook_secret_env``, or, if that is unset and
``fetch_webhook_secret`` allows, fetched from ``GET /v1/webhooks/default/secret`` for that check
only. It is never stored or logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from pydantic import Field

from reelforge import __version__
from reelforge.errors import (
    ConfigurationError,
    InvalidInput,
    ProviderError,
    ProviderPending,
)
from reelforge.log import get_logger
from reelforge.providers.base import (
    Canceled,
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
from reelforge.providers.http import ProviderHttp, invalid_url
from reelforge.providers.pricing import PriceEntry, price_entry
from reelforge.providers.replicate.lookup import find_predictions
from reelforge.providers.replicate.models import (
    MAX_REFERENCES,
    PRICE_FACTS,
    ReplicateOptions,
    ReplicatePrice,
    build_input,
    is_large_data_uri,
    price_for,
    reference_inputs,
)
from reelforge.providers.replicate.signature import StandardWebhookVerifier, signing_key
from reelforge.providers.replicate.wire import (
    KEY_ENV,
    PROVIDER_ID,
    ReplicateError,
    ReplicateFailure,
    loads_json,
    parse_prediction,
    replicate_error,
)
from reelforge.providers.webhook_security import WebhookGuard, header, webhook_refused

__all__ = ["ReplicateProvider", "ReplicateSettings"]

log = get_logger(__name__)

_API_ROOT = "https://api.replicate.com"
_VERSION_ID = re.compile(r"^[0-9a-f]{64}$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
WebhookEventName = Literal["start", "output", "logs", "completed"]
_HTTP = ProviderHttp(
    PROVIDER_ID,
    replicate_error,
    invalid_url(PROVIDER_ID, "Replicate", "check providers.replicate.base_url"),
)


def _completed_only() -> list[WebhookEventName]:
    return ["completed"]


class ReplicateSettings(ProviderSettings):
    """``providers.replicate``: API root, models, sync wait, webhooks and extra prices."""

    text_to_image_model: str = "black-forest-labs/flux-dev"
    image_to_image_model: str = "black-forest-labs/flux-dev"
    reference_model: str = Field(
        default="black-forest-labs/flux-kontext-pro",
        description="Where a text-to-image request with one reference image goes when its model "
        "takes none (a Kontext model)",
    )
    two_reference_model: str = Field(
        default="flux-kontext-apps/multi-image-kontext-pro",
        description="Where one with two reference images goes",
    )
    sync_wait_s: int = Field(default=60, ge=1, le=60, description="Prefer: wait=N for run()")
    webhook_events_filter: list[WebhookEventName] = Field(default_factory=_completed_only)
    webhook_secret_env: str = Field(
        default="REPLICATE_WEBHOOK_SECRET", pattern=r"^[A-Z_][A-Z0-9_]*$"
    )
    fetch_webhook_secret: bool = Field(
        default=True, description="Without the variable, ask the API for the secret per check"
    )
    webhook_tolerance_s: float = Field(default=300.0, gt=0)
    prices: dict[str, ReplicatePrice] = Field(
        default_factory=dict, description="Prices for models the built-in table lacks"
    )

    @property
    def api_root(self) -> str:
        root = (self.base_url or _API_ROOT).rstrip("/")
        return root.removesuffix("/v1")

    def model_for(self, capability: Capability) -> str:
        if capability is Capability.IMAGE_TO_IMAGE:
            return self.image_to_image_model
        return self.text_to_image_model


class ReplicateProvider(Provider[ReplicateSettings]):
    """Replicate's predictions API (create by model or version, get, cancel), ``Prefer: wait``
    and signed webhooks."""

    id: ClassVar[str] = PROVIDER_ID
    display_name: ClassVar[str] = "Replicate"
    vendor_name: ClassVar[str] = "Replicate"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TEXT_TO_IMAGE, Capability.IMAGE_TO_IMAGE}
    )
    options_model: ClassVar[type[ProviderOptions]] = ReplicateOptions
    settings_model: ClassVar[type[ProviderSettings]] = ReplicateSettings
    key_env: ClassVar[str | None] = KEY_ENV
    error_class: ClassVar[type[ProviderError]] = ReplicateError
    aliases: ClassVar[frozenset[str]] = frozenset({"replicate_ai"})
    sends_webhooks: ClassVar[bool] = True
    finds_submissions: ClassVar[bool] = True
    #: The transform spec's image-to-image provider.
    default_rank: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.IMAGE_TO_IMAGE: 1}
    )
    #: FLUX Kontext's input images (see :mod:`reelforge.providers.replicate.models`).
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.TEXT_TO_IMAGE: MAX_REFERENCES}
    )

    def __init__(
        self,
        settings: ReplicateSettings,
        deps: ProviderDeps,
        *,
        guard: WebhookGuard | None = None,
    ) -> None:
        super().__init__(settings, deps)
        self._verifier = StandardWebhookVerifier(
            PROVIDER_ID,
            guard or WebhookGuard(PROVIDER_ID, tolerance_s=settings.webhook_tolerance_s),
        )

    # -- jobs --------------------------------------------------------------------------------

    async def submit(self, request: GenerationRequest) -> JobHandle:
        ref, path, body, headers = self._prepare(request)
        answer = await self._call("submit", "POST", path, json=body, headers=headers)
        handle = self._handle(answer, ref)
        log.info("replicate.prediction.submitted", request_id=handle.request_id, model=ref)
        return handle

    async def find_submissions(self, lookup: SubmissionLookup) -> list[JobHandle]:
        """Replicate's predictions made from this request's model and exact input."""
        ref, _, body, _ = self._prepare(lookup.request)

        async def list_page(params: Mapping[str, str]) -> Any:
            return await self._call("list", "GET", "/v1/predictions", params=params)

        return await find_predictions(list_page, ref, body, lookup.submitted_after)

    async def run(self, request: GenerationRequest) -> Succeeded:
        """Generate with ``Prefer: wait``: the outputs if the prediction ends within
        ``sync_wait_s``, else :class:`ProviderPending` (details name the prediction)."""
        ref, path, body, headers = self._prepare(request)
        wait_s = self.settings.sync_wait_s
        answer = await self._call(
            "run",
            "POST",
            path,
            json=body,
            headers=headers | {"Prefer": f"wait={wait_s}"},
            timeout_s=wait_s + self.settings.timeout_s,
        )
        handle = self._handle(answer, ref)
        state = parse_prediction(answer, model=ref)
        if isinstance(state, Failed):
            raise state.error
        if isinstance(state, Canceled):
            raise ReplicateError(state.reason, provider=PROVIDER_ID)
        if not isinstance(state, Succeeded):
            raise ProviderPending(
                f"Replicate did not finish within {wait_s} s; the prediction goes on.",
                provider=PROVIDER_ID,
                details={"request_id": handle.request_id, "model": ref},
            )
        try:
            cost: Decimal | None = self.estimate_cost(request).amount_usd
        except ConfigurationError:
            cost = None
        return Succeeded(outputs=state.outputs, metadata=state.metadata, cost_usd=cost)

    async def status(self, handle: JobHandle) -> JobState:
        body = await self._call("status", "GET", f"/v1/predictions/{handle.request_id}")
        return parse_prediction(body, model=handle.model)

    async def cancel(self, handle: JobHandle) -> None:
        try:
            body = await self._call("cancel", "POST", f"/v1/predictions/{handle.request_id}/cancel")
        except ProviderError as exc:
            if exc.details.get("http_status") != 404:
                raise
            log.info("replicate.prediction.cancel_noop", request_id=handle.request_id)
            return
        status = body.get("status") if isinstance(body, dict) else None
        log.info("replicate.prediction.canceled", request_id=handle.request_id, status=status)

    def default_model(self, capability: Capability) -> str:
        return self.settings.model_for(capability)

    def model_for_references(self, model: str | None, capability: Capability) -> str | None:
        """``model`` if it is a Kontext model, else ``reference_model`` (one reference; two go
        to ``two_reference_model``)."""
        return self._reference_model(model or self.default_model(capability), 1)

    def _reference_model(self, ref: str, count: int) -> str:
        if len(reference_inputs(ref)) == count:
            return ref
        if count == 2:
            return self.settings.two_reference_model
        return self.settings.reference_model

    def priced(self, query: PriceQuery) -> CostEstimate:
        options = self.validate_options(query.options)
        assert isinstance(options, ReplicateOptions)
        ref = query.model or self.default_model(query.capability)
        if query.reference_count:
            ref = self._reference_model(ref, query.reference_count)
        price = price_for(ref, self.settings.prices)
        if price is None:
            raise ConfigurationError(
                f"No price is known for Replicate model {ref!r}; "
                "add one under providers.replicate.prices.",
                details={"provider": PROVIDER_ID, "model": ref, "known": sorted(PRICE_FACTS)},
            )
        units = Decimal(options.num_outputs)
        amount = (price.usd * units).quantize(Decimal("0.0001"))
        basis = f"{units} image(s) x ${price.usd}/image ({price.source})"
        return CostEstimate(provider=PROVIDER_ID, model=ref, amount_usd=amount, basis=basis)

    def price_entries(self) -> list[PriceEntry]:
        facts = [(m, f, "built-in") for m, f in PRICE_FACTS.items()]
        facts += [(m, f, "providers.replicate.prices") for m, f in self.settings.prices.items()]
        return [
            price_entry(PROVIDER_ID, model, fact.unit, fact.usd, fact.source, origin)
            for model, fact, origin in facts
        ]

    # -- webhooks ----------------------------------------------------------------------------

    async def verify_webhook_async(self, headers: Mapping[str, str], body: bytes) -> None:
        """Verify a callback, asking Replicate for the secret if the environment lacks it."""
        secret = self._secret_from_env()
        if secret is None and self._verifier.headers_present(headers):
            secret = await self._fetch_secret()
        self._verify(secret, headers, body)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Check headers, timestamp window, signature and replay with the environment's secret."""
        self._verify(self._secret_from_env(), headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The event of a verified callback (verify it first): the body is the prediction."""
        payload = loads_json(body, "webhook")
        if not isinstance(payload, dict) or not payload.get("id"):
            raise replicate_error("webhook", ReplicateFailure("The webhook body has no id."))
        return WebhookEvent(
            provider=PROVIDER_ID,
            request_id=str(payload["id"]),
            state=parse_prediction(payload),
            event_id=header(headers, "webhook-id") or str(payload["id"]),
            raw=payload,
        )

    def _verify(self, secret: str | None, headers: Mapping[str, str], body: bytes) -> None:
        if not self._verifier.headers_present(headers):
            raise webhook_refused(
                PROVIDER_ID, "missing_headers", "The webhook lacks the webhook-* headers."
            )
        if secret is None:
            raise webhook_refused(
                PROVIDER_ID,
                "no_keys",
                f"No webhook signing secret: set {self.settings.webhook_secret_env}.",
            )
        env_var = self.settings.webhook_secret_env
        key = signing_key(secret, provider=PROVIDER_ID, env_var=env_var)
        self._verifier.verify(key, headers, body)

    def _secret_from_env(self) -> str | None:
        value = self.deps.environ.get(self.settings.webhook_secret_env, "").strip()
        return value or None

    async def _fetch_secret(self) -> str | None:
        if not self.settings.fetch_webhook_secret:
            return None
        body = await self._call("webhook_secret", "GET", "/v1/webhooks/default/secret")
        key = body.get("key") if isinstance(body, dict) else None
        return key if isinstance(key, str) and key else None

    # -- plumbing ----------------------------------------------------------------------------

    def _prepare(
        self, request: GenerationRequest
    ) -> tuple[str, str, dict[str, Any], dict[str, str]]:
        """Model reference, endpoint path, JSON body and extra headers of a create call."""
        options = self.check_request(request)
        assert isinstance(options, ReplicateOptions)
        self.api_key()
        ref = request.model or self.default_model(request.capability)
        if request.references:
            ref = self._reference_model(ref, len(request.references))
        path, body = _endpoint(ref)
        body["input"] = build_input(request, options, ref)
        image = body["input"].get("image")
        if isinstance(image, str) and is_large_data_uri(image):
            log.info("replicate.input.large_data_uri", size=len(image))
        if request.webhook_url:
            body["webhook"] = request.webhook_url
            body["webhook_events_filter"] = list(self.settings.webhook_events_filter)
        headers = {"Cancel-After": options.cancel_after} if options.cancel_after else {}
        return ref, path, body, headers

    def _handle(self, answer: Any, ref: str) -> JobHandle:
        if not isinstance(answer, dict) or not answer.get("id"):
            raise replicate_error("submit", ReplicateFailure("The prediction has no id."))
        return JobHandle(provider=PROVIDER_ID, request_id=str(answer["id"]), model=ref)

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        token = self.api_key()
        sent = {
            "User-Agent": f"reelforge/{__version__}",
            "Accept": "application/json",
            "Authorization": f"Bearer {token}",
            **(headers or {}),
        }
        response = await _HTTP.send(
            self.deps.http,
            operation,
            method,
            self.settings.api_root + path,
            headers=sent,
            timeout_s=timeout_s or self.settings.timeout_s,
            json=json,
            params=params,
        )
        return loads_json(response.content, operation)


def _endpoint(ref: str) -> tuple[str, dict[str, Any]]:
    """The create path for a model reference, and the body's ``version`` if it names one."""
    if _VERSION_ID.fullmatch(ref):
        return "/v1/predictions", {"version": ref}
    name, colon, version = ref.partition(":")
    if not _MODEL_NAME.fullmatch(name) or (colon and not version.strip()):
        raise InvalidInput(
            f"{ref!r} is not a Replicate model: use 'owner/name', 'owner/name:<version>' "
            "or a version id.",
            details={"provider": PROVIDER_ID, "model": ref},
        )
    if version:
        return "/v1/predictions", {"version": version}
    owner, model = name.split("/")
    return f"/v1/models/{owner}/{model}/predictions", {}
