"""The Google adapter (Gemini Developer API): its settings, and submit / status / run / cancel.

Wire format per the provider reference §3; endpoints under ``{base_url}/{api_version}``
(``https://generativelanguage.googleapis.com/v1beta`` by default):

- **Stills are synchronous.** Gemini image models (the default, ``gemini-2.5-flash-image``) go
  through ``models/{model}:generateContent`` and answer the image inline (base64); Imagen models go
  through ``models/{model}:predict`` (§3.2). ``submit`` makes the call and keeps the finished job
  in this process (bounded, like the local studio's jobs); ``status`` reads it back, and after a
  restart reports it failed: submit again. ``run`` returns the result directly.
- **Imagen is retired on the Gemini API for new work** (§3.2, §8): the SDK disabled
  ``generate_images`` for the Gemini API on 2026-08-21 and an Imagen 4 shutdown on 2026-08-17 was
  reported (date unconfirmed). It is never a default, but stays selectable by model id
  (``imagen-*``) for accounts or gateways that still serve it.
- **Veo is a long-running operation** (§3.3): ``models/{model}:predictLongRunning`` answers an
  operation whose name is the request id; ``status`` reads ``GET /{name}`` (``done`` / ``response``
  / ``error``, parsed in :func:`reelforge.providers.google.wire.parse_operation`). Finished videos
  are downloaded here, with the key, and returned as bytes: the file id is taken from the URI
  (``https://.../files/<id>:download?alt=media``, §7) and fetched from *our* base URL, so the key
  never goes to whatever host a URI names.
- **No cancel.** §3 documents no cancel for Veo operations: ``cancel`` is a logged no-op (the
  operation runs on and is billed; ``status`` stays truthful). Stills are done before ``submit``
  returns, so there is nothing to cancel.
- **No webhooks.** §3.3 lists ``webhookConfig``, but its JSON casing and payload are unconfirmed
  (§8): not implemented; ``verify_webhook`` refuses and ``parse_webhook`` is the base no-op.

- **Reference images** (a character's look) go to Gemini image models as further inline image
  parts, up to 3 images per prompt with the input frame (the wire facts and their sources are in
  :mod:`reelforge.providers.google.models`); Imagen takes none.
- **Veo reference images**: text→video on Veo 3.1 takes up to 3 asset references
  (``instances[0].referenceImages``; never with an input frame, so image→video takes none), and
  makes an 8-second clip (:mod:`reelforge.providers.google.models`).

The key is read from ``GEMINI_API_KEY`` at each call and goes nowhere but the
``x-goog-api-key`` header (never a ``?key=`` query, which would end up in logged URLs). Failures
are translated in :func:`reelforge.providers.google.wire.google_error`.
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

import httpx
from pydantic import Field

from reelforge import __version__
from reelforge.errors import ConfigurationError, InvalidInput, ProviderError
from reelforge.log import get_logger
from reelforge.providers.base import (
    Capability,
    CostEstimate,
    Failed,
    GenerationMetadata,
    GenerationRequest,
    JobHandle,
    JobState,
    OutputMedia,
    PriceQuery,
    Provider,
    ProviderDeps,
    ProviderOptions,
    ProviderSettings,
    Succeeded,
)
from reelforge.providers.google.models import (
    MAX_IMAGES_PER_PROMPT,
    MAX_VEO_REFERENCES,
    PRICE_FACTS,
    VEO_REFERENCE_SECONDS,
    Family,
    GoogleOptions,
    GooglePrice,
    build_body,
    check_family,
    parse_generated_content,
    parse_predictions,
    price_for,
    request_units,
)
from reelforge.providers.google.wire import (
    KEY_ENV,
    PROVIDER_ID,
    SPEC_KEY_ENVS,
    GoogleError,
    RpcStatus,
    VideoSamples,
    google_error,
    loads_json,
    parse_operation,
)
from reelforge.providers.http import ProviderHttp, invalid_url
from reelforge.providers.pricing import PriceEntry, price_entry

__all__ = ["GoogleProvider", "GoogleSettings"]

log = get_logger(__name__)

_GOOGLE_HOST = "https://generativelanguage.googleapis.com"
_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*$")
_OPERATION = re.compile(r"^models/[\w.\-]+/operations/[\w\-]+$")
_FILE_ID = re.compile(r"files/([a-z0-9]+)")
_HTTP = ProviderHttp(
    PROVIDER_ID,
    google_error,
    invalid_url(PROVIDER_ID, "Google", "check the providers.google settings"),
)


class GoogleSettings(ProviderSettings):
    """``providers.google``: host, API version, the model per capability, extra prices."""

    api_version: str = "v1beta"
    text_to_image_model: str = "gemini-2.5-flash-image"
    image_to_image_model: str = "gemini-2.5-flash-image"
    # Veo 3.1 Fast: a 6 s clip is $0.90 where Veo 3.1 is $2.40, more than a cutscene
    # session's default $2.00 budget (issue #20); the specs' own clip model is a Fast tier.
    image_to_video_model: str = "veo-3.1-fast-generate-preview"
    text_to_video_model: str = "veo-3.1-fast-generate-preview"
    kept_results: int = Field(default=256, ge=1, le=10_000)
    prices: dict[str, GooglePrice] = Field(
        default_factory=dict, description="Prices for models the built-in table lacks"
    )

    def api_root(self) -> str:
        return f"{(self.base_url or _GOOGLE_HOST).rstrip('/')}/{self.api_version.strip('/')}"

    def model_for(self, capability: Capability) -> str:
        return {
            Capability.TEXT_TO_IMAGE: self.text_to_image_model,
            Capability.IMAGE_TO_IMAGE: self.image_to_image_model,
            Capability.IMAGE_TO_VIDEO: self.image_to_video_model,
            Capability.TEXT_TO_VIDEO: self.text_to_video_model,
        }[capability]


class GoogleProvider(Provider[GoogleSettings]):
    """Gemini image models and Imagen (synchronous stills), Veo (long-running operations)."""

    id: ClassVar[str] = PROVIDER_ID
    display_name: ClassVar[str] = "Google Gemini API (Gemini image, Imagen, Veo)"
    vendor_name: ClassVar[str] = "Google"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)
    options_model: ClassVar[type[ProviderOptions]] = GoogleOptions
    settings_model: ClassVar[type[ProviderSettings]] = GoogleSettings
    key_env: ClassVar[str | None] = KEY_ENV
    key_env_aliases: ClassVar[tuple[str, ...]] = SPEC_KEY_ENVS
    error_class: ClassVar[type[ProviderError]] = GoogleError
    aliases: ClassVar[frozenset[str]] = frozenset({"google_imagen", "imagen", "gemini"})
    accepts_last_frame: ClassVar[bool] = True
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {
            Capability.TEXT_TO_IMAGE: MAX_IMAGES_PER_PROMPT,
            Capability.IMAGE_TO_IMAGE: MAX_IMAGES_PER_PROMPT - 1,
            Capability.TEXT_TO_VIDEO: MAX_VEO_REFERENCES,
        }
    )

    def __init__(self, settings: GoogleSettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._finished: OrderedDict[str, Succeeded] = OrderedDict()

    # -- jobs --------------------------------------------------------------------------------

    async def submit(self, request: GenerationRequest) -> JobHandle:
        model, family, body = self._prepare(request)
        if family != "veo":
            request_id, result = await self._still(model, family, body, request)
            self._keep(request_id, result)
            log.info("google.job.finished", request_id=request_id, model=model)
            return JobHandle(provider=PROVIDER_ID, request_id=request_id, model=model)
        answer = await self._call(
            "predict_long_running", "POST", self._model_url(model, "predictLongRunning"), json=body
        )
        name = answer.get("name") if isinstance(answer, dict) else None
        if not isinstance(name, str) or not _OPERATION.match(name):
            raise google_error("submit", RpcStatus("Google's answer names no operation."))
        log.info("google.job.submitted", request_id=name, model=model)
        return JobHandle(provider=PROVIDER_ID, request_id=name, model=model)

    async def run(self, request: GenerationRequest) -> Succeeded:
        """A still, synchronously (Gemini image or Imagen); Veo needs submit and status."""
        model, family, body = self._prepare(request)
        if family == "veo":
            raise InvalidInput(
                "Veo runs as a long-running operation: use submit and status.",
                details={"provider": PROVIDER_ID, "model": model},
            )
        _, result = await self._still(model, family, body, request)
        return result

    def held_result(self, handle: JobHandle) -> Succeeded | None:
        """A still made inside :meth:`submit` (a Veo operation runs at Google: None)."""
        if _OPERATION.match(handle.request_id):
            return None
        return self._finished.get(handle.request_id)

    async def status(self, handle: JobHandle) -> JobState:
        kept = self._finished.get(handle.request_id)
        if kept is not None:
            return kept
        if not _OPERATION.match(handle.request_id):
            return Failed(
                GoogleError(
                    "This Google still is not held here (the process may have restarted); "
                    "submit it again.",
                    provider=PROVIDER_ID,
                    details={"request_id": handle.request_id},
                )
            )
        body = await self._call(
            "operation", "GET", f"{self.settings.api_root()}/{handle.request_id}"
        )
        state = parse_operation(body)
        if not isinstance(state, VideoSamples):
            return state
        outputs: list[OutputMedia] = []
        for uri, data, mime in state.videos:
            if data is not None:
                outputs.append(OutputMedia(data=data, content_type=mime or "video/mp4"))
                continue
            found = _FILE_ID.search(uri or "")
            if found is None:
                return Failed(
                    GoogleError(
                        "Google named a video without a file id.",
                        provider=PROVIDER_ID,
                        details={"uri": str(uri)[:200]},
                    )
                )
            outputs.append(await self._download(found.group(1), mime))
        result = Succeeded(
            outputs=tuple(outputs),
            metadata=GenerationMetadata(model=handle.model, extra=state.extra),
        )
        self._keep(handle.request_id, result)
        log.info("google.job.finished", request_id=handle.request_id, model=handle.model)
        return result

    async def cancel(self, handle: JobHandle) -> None:
        """A no-op: Google documents no cancel for Veo operations; stills are already done."""
        if handle.request_id not in self._finished and _OPERATION.match(handle.request_id):
            log.warning("google.job.cancel_unsupported", request_id=handle.request_id)

    def default_model(self, capability: Capability) -> str:
        return self.settings.model_for(capability)

    def priced(self, query: PriceQuery) -> CostEstimate:
        options = self.validate_options(query.options)
        assert isinstance(options, GoogleOptions)
        model = self._model(query.model, query.capability)
        family = check_family(model, query.capability)
        price = price_for(model, self.settings.prices)
        if price is None:
            raise ConfigurationError(
                f"No price is known for Google model {model!r}; add one under "
                "providers.google.prices.",
                details={"provider": PROVIDER_ID, "model": model, "known": sorted(PRICE_FACTS)},
            )
        duration = query.duration_s
        if query.reference_count and query.capability.makes_video:
            duration = VEO_REFERENCE_SECONDS
        units, unit_text = request_units(family, model, duration, options)
        amount = (price.usd * units).quantize(Decimal("0.0001"))
        basis = f"{units} {unit_text} x ${price.usd}/{price.unit} ({price.source})"
        return CostEstimate(provider=PROVIDER_ID, model=model, amount_usd=amount, basis=basis)

    def price_entries(self) -> list[PriceEntry]:
        facts = [(m, f, "built-in") for m, f in PRICE_FACTS.items()]
        facts += [(m, f, "providers.google.prices") for m, f in self.settings.prices.items()]
        return [
            price_entry(PROVIDER_ID, model, fact.unit, fact.usd, fact.source, origin)
            for model, fact, origin in facts
        ]

    # -- plumbing ----------------------------------------------------------------------------

    def _prepare(self, request: GenerationRequest) -> tuple[str, Family, dict[str, Any]]:
        options = self.check_request(request)
        assert isinstance(options, GoogleOptions)
        self.api_key()
        model = self._model(request.model, request.capability)
        family, body = build_body(model, request, options)
        return model, family, body

    def _model(self, model: str | None, capability: Capability) -> str:
        found = (model or self.default_model(capability)).removeprefix("models/")
        if not _MODEL_ID.match(found):
            raise InvalidInput(
                f"{found!r} is not a Google model id.", details={"provider": PROVIDER_ID}
            )
        return found

    async def _still(
        self, model: str, family: Family, body: dict[str, Any], request: GenerationRequest
    ) -> tuple[str, Succeeded]:
        gemini = family == "gemini"
        operation = "generate_content" if gemini else "predict"
        method = "generateContent" if gemini else "predict"
        answer = await self._call(operation, "POST", self._model_url(model, method), json=body)
        outputs, extra = parse_generated_content(answer) if gemini else parse_predictions(answer)
        response_id = answer.get("responseId") if isinstance(answer, dict) else None
        request_id = response_id if isinstance(response_id, str) and response_id else None
        try:
            cost: Decimal | None = self.estimate_cost(request).amount_usd
        except ConfigurationError:
            cost = None
        metadata = GenerationMetadata(model=model, seed=request.seed, extra=extra)
        result = Succeeded(outputs=outputs, metadata=metadata, cost_usd=cost)
        return request_id or uuid.uuid4().hex, result

    def _keep(self, request_id: str, result: Succeeded) -> None:
        self._finished[request_id] = result
        while len(self._finished) > self.settings.kept_results:
            self._finished.popitem(last=False)

    def _model_url(self, model: str, method: str) -> str:
        return f"{self.settings.api_root()}/models/{model}:{method}"

    async def _download(self, file_id: str, mime: str | None) -> OutputMedia:
        url = f"{self.settings.api_root()}/files/{file_id}:download"
        response = await self._send("download", "GET", url, params={"alt": "media"}, accept="*/*")
        content_type = response.headers.get("content-type", "").split(";")[0] or None
        if content_type in (None, "application/octet-stream"):
            content_type = mime or "video/mp4"
        return OutputMedia(data=response.content, content_type=content_type)

    async def _call(self, operation: str, method: str, url: str, *, json: Any = None) -> Any:
        response = await self._send(operation, method, url, json=json)
        return loads_json(response.content, operation)

    async def _send(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        headers = {
            "User-Agent": f"reelforge/{__version__}",
            "Accept": accept,
            "x-goog-api-key": self.api_key(),
        }
        return await _HTTP.send(
            self.deps.http,
            operation,
            method,
            url,
            headers=headers,
            timeout_s=self.settings.timeout_s,
            json=json,
            params=params,
        )
