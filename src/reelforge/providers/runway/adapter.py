"""The Runway adapter: its settings, and submit / status / cancel, priced in credits.

Wire format per the provider reference §4: ``POST /v1/image_to_video`` (``promptImage`` as a URL
or data URI, ``promptText``, ``model``, ``ratio``, ``duration``) and ``POST /v1/text_to_image``
(``gen4_image``; Runway's SDK, as §4 does not cover it; a character's reference images as
``referenceImages``) answer ``{"id"}``; ``GET /v1/tasks/{id}``
is parsed in :func:`reelforge.providers.runway.wire.parse_task`; every failure goes through
:func:`reelforge.providers.runway.wire.runway_error`. Every call carries ``X-Runway-Version``
(settings ``api_version``) and the key from ``RUNWAYML_API_SECRET``, read at each call.

Cancel is ``DELETE /v1/tasks/{id}``, which cancels a pending or running task but *deletes* a
finished one and its outputs, so the adapter reads the task first and leaves finished tasks
alone. Runway documents that cancelled tasks may not be fetchable afterwards: a 404 for a task
this adapter cancelled reads as canceled. Runway sends no webhooks; a request's ``webhook_url``
is ignored and the caller polls (Runway asks for no more than one poll per 5 s). Runway
documents no listing of past tasks, so a task cut off by a crash cannot be looked up:
``finds_submissions`` is False.

Settings (``providers.runway``): ``base_url`` (default ``https://api.dev.runwayml.com``),
``api_version``, the model per capability, ``credit_usd`` and extra ``prices`` (in credits).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import Field

from reelforge import __version__
from reelforge.errors import ConfigurationError, ProviderError
from reelforge.log import get_logger
from reelforge.providers.base import (
    TERMINAL_STATES,
    Canceled,
    Capability,
    CostEstimate,
    GenerationRequest,
    JobHandle,
    JobState,
    PriceQuery,
    Provider,
    ProviderDeps,
    ProviderOptions,
    ProviderSettings,
)
from reelforge.providers.http import ProviderHttp, invalid_url
from reelforge.providers.pricing import MAX_PRICE_USD, PriceEntry, price_entry
from reelforge.providers.runway.models import (
    CREDIT_FACTS,
    MAX_REFERENCES,
    PROMPT_LIMIT,
    SILENT_CREDITS,
    RunwayOptions,
    RunwayPrice,
    build_task,
    price_for,
    task_shape,
)
from reelforge.providers.runway.wire import (
    KEY_ENV,
    PROVIDER_ID,
    SPEC_KEY_ENVS,
    RunwayError,
    RunwayFailure,
    loads_json,
    parse_task,
    runway_error,
)

__all__ = ["RunwayProvider", "RunwaySettings"]

log = get_logger(__name__)

_API_ROOT = "https://api.dev.runwayml.com"
_REMEMBERED_CANCELS = 10_000
_HTTP = ProviderHttp(
    PROVIDER_ID, runway_error, invalid_url(PROVIDER_ID, "Runway", "check providers.runway.base_url")
)


class RunwaySettings(ProviderSettings):
    """``providers.runway``: API root and version, models, credit price and extra prices."""

    api_version: str = Field(default="2024-11-06", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    image_to_video_model: str = "gen4_turbo"
    text_to_image_model: str = "gen4_image"
    credit_usd: Decimal = Field(
        default=Decimal("0.01"),
        ge=0,
        lt=MAX_PRICE_USD,
        description="USD per API credit ($0.01 on Runway's API pricing page)",
    )
    prices: dict[str, RunwayPrice] = Field(
        default_factory=dict, description="Credit prices for models the built-in table lacks"
    )

    @property
    def api_root(self) -> str:
        return (self.base_url or _API_ROOT).rstrip("/")

    def model_for(self, capability: Capability) -> str:
        if capability is Capability.TEXT_TO_IMAGE:
            return self.text_to_image_model
        return self.image_to_video_model


class RunwayProvider(Provider[RunwaySettings]):
    """Runway's task API: image-to-video clips and gen4 stills, polled; no webhooks."""

    id: ClassVar[str] = PROVIDER_ID
    display_name: ClassVar[str] = "Runway"
    vendor_name: ClassVar[str] = "Runway"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.IMAGE_TO_VIDEO, Capability.TEXT_TO_IMAGE}
    )
    options_model: ClassVar[type[ProviderOptions]] = RunwayOptions
    settings_model: ClassVar[type[ProviderSettings]] = RunwaySettings
    key_env: ClassVar[str | None] = KEY_ENV
    key_env_aliases: ClassVar[tuple[str, ...]] = SPEC_KEY_ENVS
    error_class: ClassVar[type[ProviderError]] = RunwayError
    aliases: ClassVar[frozenset[str]] = frozenset({"runwayml"})
    max_prompt_chars: ClassVar[int | None] = PROMPT_LIMIT
    #: The transform spec's provider timeout for Runway's clips.
    job_timeout_s: ClassVar[float | None] = 300.0
    #: The transform spec's first image-to-video provider.
    default_rank: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.IMAGE_TO_VIDEO: 1}
    )
    #: ``gen4_image``'s ``referenceImages`` (see :mod:`reelforge.providers.runway.models`).
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.TEXT_TO_IMAGE: MAX_REFERENCES}
    )

    def __init__(self, settings: RunwaySettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._canceled: OrderedDict[str, None] = OrderedDict()

    async def submit(self, request: GenerationRequest) -> JobHandle:
        model, path, body = self._prepare(request)
        self.api_key()
        answer = await self._call("submit", "POST", path, json=body)
        task_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise runway_error("submit", RunwayFailure("Runway's answer has no task id."))
        if request.webhook_url:
            log.info("runway.webhook.unsupported", request_id=task_id)
        log.info("runway.task.submitted", request_id=task_id, model=model)
        return JobHandle(provider=PROVIDER_ID, request_id=task_id, model=model)

    async def status(self, handle: JobHandle) -> JobState:
        try:
            body = await self._call("status", "GET", f"/v1/tasks/{handle.request_id}")
        except ProviderError as exc:
            if exc.details.get("http_status") == 404 and handle.request_id in self._canceled:
                return Canceled("The task was cancelled (Runway no longer lists it).")
            raise
        return parse_task(body, model=handle.model)

    async def cancel(self, handle: JobHandle) -> None:
        task = f"/v1/tasks/{handle.request_id}"
        try:
            state = parse_task(await self._call("cancel", "GET", task), model=handle.model)
            if isinstance(state, TERMINAL_STATES):
                log.info("runway.task.cancel_noop", request_id=handle.request_id)
                return
            await self._call("cancel", "DELETE", task, expect_body=False)
        except ProviderError as exc:
            if exc.details.get("http_status") != 404:
                raise
            log.info("runway.task.cancel_noop", request_id=handle.request_id)
            return
        self._canceled[handle.request_id] = None
        while len(self._canceled) > _REMEMBERED_CANCELS:
            self._canceled.popitem(last=False)
        log.info("runway.task.canceled", request_id=handle.request_id)

    def default_model(self, capability: Capability) -> str:
        return self.settings.model_for(capability)

    def priced(self, query: PriceQuery) -> CostEstimate:
        options = self.validate_options(query.options)
        assert isinstance(options, RunwayOptions)
        model = query.model or self.default_model(query.capability)
        shape = task_shape(
            model, query.capability, query.width, query.height, query.duration_s, options
        )
        price = price_for(model, shape | {"audio": options.audio}, self.settings.prices)
        if price is None:
            raise ConfigurationError(
                f"No price is known for Runway model {model!r}; "
                "add one under providers.runway.prices.",
                details={"provider": PROVIDER_ID, "model": model, "known": sorted(CREDIT_FACTS)},
            )
        units = Decimal(shape["duration"]) if price.unit == "second" else Decimal(1)
        credit_usd = self.settings.credit_usd
        amount = (units * price.credits * credit_usd).quantize(Decimal("0.0001"))
        basis = (
            f"{units} {price.unit}(s) x {price.credits} credits/{price.unit}"
            f" x ${credit_usd}/credit ({price.source})"
        )
        return CostEstimate(provider=PROVIDER_ID, model=model, amount_usd=amount, basis=basis)

    def price_entries(self) -> list[PriceEntry]:
        """The credit facts (gen4_image also at 720p) and the settings', in USD."""
        facts: list[tuple[str, RunwayPrice, str, dict[str, str | bool]]] = [
            (m, f, "built-in", {}) for m, f in CREDIT_FACTS.items()
        ]
        at_720p = price_for("gen4_image", {"ratio": "1280:720"}, {})
        if at_720p is not None:
            facts.append(("gen4_image", at_720p, "built-in", {"resolution": "720p"}))
        facts += [(m, f, "built-in", {"audio": False}) for m, f in SILENT_CREDITS.items()]
        facts += [(m, f, "providers.runway.prices", {}) for m, f in self.settings.prices.items()]
        credit_usd = self.settings.credit_usd
        return [
            price_entry(
                PROVIDER_ID,
                model,
                fact.unit,
                fact.credits * credit_usd,
                f"{fact.credits} credits x ${credit_usd}/credit; {fact.source}",
                origin,
                conditions,
            )
            for model, fact, origin, conditions in facts
        ]

    def _prepare(self, request: GenerationRequest) -> tuple[str, str, dict[str, Any]]:
        options = self.check_request(request)
        assert isinstance(options, RunwayOptions)
        model = request.model or self.default_model(request.capability)
        path, body = build_task(model, request, options)
        return model, path, body

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        expect_body: bool = True,
    ) -> Any:
        key = self.api_key()
        headers = {
            "User-Agent": f"reelforge/{__version__}",
            "Accept": "application/json" if expect_body else "*/*",
            "Authorization": f"Bearer {key}",
            "X-Runway-Version": self.settings.api_version,
        }
        response = await _HTTP.send(
            self.deps.http,
            operation,
            method,
            self.settings.api_root + path,
            headers=headers,
            timeout_s=self.settings.timeout_s,
            json=json,
        )
        return loads_json(response.content, operation) if expect_body else None
