"""The Leonardo.Ai adapter: its settings, and submit / status / cancel / webhooks.

Wire format per the provider reference §5, under ``{base_url}`` (default
``https://cloud.leonardo.ai/api/rest/v1``), key ``LEONARDO_API_KEY`` read at each call and sent
only as ``Authorization: Bearer``:

- text→image: ``POST /generations`` -> ``sdGenerationJob.generationId``; a character's
  reference image is uploaded (the init-image flow below) and sent as a Character Reference in
  ``controlnets``, to ``reference_model`` unless the request names a model (:mod:`.models`);
- image→video: ``POST /generations-image-to-video`` (``imageId``, ``imageType``, ``model``:
  ``MOTION2`` by default) -> ``motionVideoGenerationJob.generationId``. The image is one Leonardo
  holds: ``options.image_id`` (a generated image, or an upload with ``image_type: UPLOADED``), or
  else the request's image bytes are uploaded first: ``POST /init-image`` ->
  ``uploadInitImage {id, url, fields}`` [SDK], then a multipart POST of ``fields`` + ``file`` to
  ``url`` (a presigned storage URL; no key goes there) [not in §5: Leonardo's upload guide,
  unconfirmed];
- both polled with ``GET /generations/{id}`` -> ``generations_by_pk`` (parsed in
  :func:`reelforge.providers.leonardo.wire.parse_generation`); the clip is assumed at
  ``motionMP4URL`` (§8). Outputs are URLs to ingest.

**Lookup.** A text-to-image generation cut off by a crash is looked up among the key's user's
generations (``GET /me``, then ``GET /generations/user/{userId}``; ``find_submissions``, in
:mod:`.lookup`). An image-to-video one cannot be (:meth:`LeonardoProvider.can_find_submission`
is False: nothing listed ties a clip to its freshly uploaded image).

**No cancel.** Leonardo's API has ``DELETE /generations/{id}`` but no cancel; deleting is not
stopping (and may still be billed), so ``cancel`` is a logged no-op: the generation runs on and is
billed, and ``status`` stays truthful (it never reports Canceled).

**Prices.** Leonardo prices each generation itself (pay-as-you-go dollars) and publishes no
per-model table, so prices come from its pricing calculator, asked once and kept on record
(:mod:`.quotes`; ``reelforge costs --refresh --provider leonardo``), or from
``providers.leonardo.prices`` keyed by a model id, or ``image`` / ``video`` for any (which win).
With neither, ``price`` raises a :class:`ConfigurationError` saying how to get one.

**Webhooks** (§5, second-hand): Leonardo calls one URL per API key, configured at Leonardo, with
``Authorization: Bearer <webhookCallbackApiKey>`` and no signature; a per-request URL is not
possible, so ``request.webhook_url`` is ignored and ``sends_webhooks`` is False (callers poll).
An account-configured callback is accepted when its bearer matches the key in
``webhook_key_env`` (default ``LEONARDO_WEBHOOK_API_KEY``), its body ``timestamp`` (ms) is within
``webhook_tolerance_s`` and it is not a replay; :meth:`parse_webhook` turns it into an event.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, ClassVar

import httpx
from pydantic import Field, field_validator

from reelforge import __version__
from reelforge.errors import InvalidInput, ProviderError
from reelforge.log import get_logger
from reelforge.providers.base import (
    Capability,
    CostEstimate,
    Failed,
    GenerationRequest,
    InputImage,
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
from reelforge.providers.leonardo.lookup import find_generations, user_id_of
from reelforge.providers.leonardo.models import (
    DEFAULT_MODEL,
    KINO_XL,
    LeonardoOptions,
    LeonardoPrice,
    image_body,
    video_body,
)
from reelforge.providers.leonardo.pricing import leonardo_price, leonardo_price_entries
from reelforge.providers.leonardo.quotes import QuoteBook, ask_quotes
from reelforge.providers.leonardo.wire import (
    KEY_ENV,
    PROVIDER_ID,
    VIDEO_MODELS,
    LeonardoError,
    billed_usd,
    callback_body,
    callback_object,
    finished,
    leonardo_error,
    loads_json,
    parse_generation,
)
from reelforge.providers.pricing import PriceEntry
from reelforge.providers.webhook_security import WebhookGuard, header, webhook_refused

__all__ = ["LeonardoProvider", "LeonardoSettings"]

log = get_logger(__name__)

_LEONARDO_API = "https://cloud.leonardo.ai/api/rest/v1"
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
_HTTP = ProviderHttp(
    PROVIDER_ID,
    leonardo_error,
    invalid_url(PROVIDER_ID, "Leonardo", "check the providers.leonardo settings"),
)


class LeonardoSettings(ProviderSettings):
    """``providers.leonardo``: host, models, NSFW policy, prices and the callback key."""

    text_to_image_model: str | None = Field(
        default=None, description="Leonardo modelId; unset: Leonardo's default model"
    )
    image_to_video_model: str = "MOTION2"
    reference_model: str = Field(
        default=KINO_XL,
        description="The modelId a text-to-image request with a character reference goes to "
        "when it names none (Character Reference needs an SDXL model)",
    )
    reject_nsfw: bool = Field(default=True, description="All outputs flagged NSFW: rejected")
    prices: dict[str, LeonardoPrice] = Field(
        default_factory=dict, description="By model id, or 'image' / 'video' for any model"
    )
    webhook_key_env: str = "LEONARDO_WEBHOOK_API_KEY"
    webhook_tolerance_s: float = Field(default=300.0, gt=0)

    @field_validator("prices", mode="before")
    @classmethod
    def _prices_from_json(cls, value: Any) -> Any:
        # REELFORGE_PROVIDERS__LEONARDO__PRICES arrives as text: JSON, like other variables.
        return json.loads(value) if isinstance(value, str) else value

    def api_root(self) -> str:
        return (self.base_url or _LEONARDO_API).rstrip("/")


class LeonardoProvider(Provider[LeonardoSettings]):
    """Leonardo's generations (text→image) and motion (image→video), polled."""

    id: ClassVar[str] = PROVIDER_ID
    display_name: ClassVar[str] = "Leonardo.Ai"
    vendor_name: ClassVar[str] = "Leonardo"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TEXT_TO_IMAGE, Capability.IMAGE_TO_VIDEO}
    )
    options_model: ClassVar[type[ProviderOptions]] = LeonardoOptions
    settings_model: ClassVar[type[ProviderSettings]] = LeonardoSettings
    key_env: ClassVar[str | None] = KEY_ENV
    error_class: ClassVar[type[ProviderError]] = LeonardoError
    aliases: ClassVar[frozenset[str]] = frozenset({"leonardo_ai", "leonardo.ai"})
    finds_submissions: ClassVar[bool] = True
    #: The transform spec's second image-to-video provider (after the first fails).
    default_rank: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.IMAGE_TO_VIDEO: 2}
    )
    #: One Character Reference per generation (see :mod:`reelforge.providers.leonardo.models`).
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.TEXT_TO_IMAGE: 1}
    )

    def __init__(
        self,
        settings: LeonardoSettings,
        deps: ProviderDeps,
        *,
        guard: WebhookGuard | None = None,
    ) -> None:
        super().__init__(settings, deps)
        self._guard = guard or WebhookGuard(PROVIDER_ID, tolerance_s=settings.webhook_tolerance_s)
        self._user_id: str | None = None
        self._quotes = QuoteBook(self.state_path("quotes.json"))

    # -- jobs --------------------------------------------------------------------------------

    async def submit(self, request: GenerationRequest) -> JobHandle:
        options, model = self._prepare(request)
        self.api_key()
        if request.webhook_url:
            log.info("leonardo.webhook_url_ignored", reason="configured per API key at Leonardo")
        if request.capability is Capability.IMAGE_TO_VIDEO:
            image_id, image_type = await self._image_for(request, options)
            body = video_body(model, request, options, image_id, image_type)
            answer = await self._call(
                "create_image_to_video", "POST", "/generations-image-to-video", body
            )
            job = answer.get("motionVideoGenerationJob") if isinstance(answer, dict) else None
        else:
            references = [await self._upload_reference(image) for image in request.references]
            body = image_body(model, request, options, tuple(references))
            answer = await self._call("create_generation", "POST", "/generations", body)
            job = answer.get("sdGenerationJob") if isinstance(answer, dict) else None
        generation_id = job.get("generationId") if isinstance(job, dict) else None
        if not isinstance(generation_id, str) or not generation_id:
            raise self.error("Leonardo's answer names no generation.")
        cost = billed_usd(job)
        log.info(
            "leonardo.job.submitted", request_id=generation_id, model=model, cost_usd=str(cost)
        )
        return JobHandle(provider=PROVIDER_ID, request_id=generation_id, model=model, cost_usd=cost)

    def can_find_submission(self, request: GenerationRequest) -> bool:
        """Text-to-image without references only: an image-to-video generation, or one with a
        Character Reference, cannot be told apart (its image is a fresh upload; module doc)."""
        return request.capability is Capability.TEXT_TO_IMAGE and not request.references

    async def find_submissions(self, lookup: SubmissionLookup) -> list[JobHandle]:
        """The user's text-to-image generations made from this request (see :mod:`.lookup`)."""
        options, model = self._prepare(lookup.request)
        if not self.can_find_submission(lookup.request):
            return []
        if self._user_id is None:
            self._user_id = user_id_of(await self._call("get_user", "GET", "/me"))
        body = image_body(model, lookup.request, options)

        async def call(operation: str, path: str) -> Any:
            return await self._call(operation, "GET", path)

        return await find_generations(call, self._user_id, model, body, lookup.submitted_after)

    async def status(self, handle: JobHandle) -> JobState:
        body = await self._call(
            "get_generation", "GET", f"/generations/{_path_id(handle.request_id)}"
        )
        state = parse_generation(
            body,
            model=handle.model,
            video=handle.model in VIDEO_MODELS,
            reject_nsfw=self.settings.reject_nsfw,
        )
        if isinstance(state, Succeeded) and state.cost_usd is None:
            return replace(state, cost_usd=handle.cost_usd)
        return state

    async def cancel(self, handle: JobHandle) -> None:
        """A no-op: Leonardo has no cancel call (see the module docstring)."""
        log.warning("leonardo.job.cancel_unsupported", request_id=handle.request_id)

    def default_model(self, capability: Capability) -> str:
        if capability is Capability.IMAGE_TO_VIDEO:
            return self.settings.image_to_video_model
        return self.settings.text_to_image_model or DEFAULT_MODEL

    def model_for_references(self, model: str | None, capability: Capability) -> str | None:
        """The model the request names, else ``reference_model`` (an SDXL model: Leonardo's
        default takes no Character Reference)."""
        return model or self.settings.reference_model

    def priced(self, query: PriceQuery) -> CostEstimate:
        options = self.validate_options(query.options)
        assert isinstance(options, LeonardoOptions)
        model = self._model(query.model, query.capability)
        if query.reference_count:
            model = self.model_for_references(query.model, query.capability) or model
        return leonardo_price(self.settings.prices, self._quotes, query, options, model)

    def price_entries(self) -> list[PriceEntry]:
        return leonardo_price_entries(self.settings.prices, self._quotes)

    async def refresh_prices(self) -> list[PriceEntry]:
        """Ask Leonardo's pricing calculator for each default model and keep the answers."""

        async def ask(body: dict[str, Any]) -> Any:
            return await self._call("pricing_calculator", "POST", "/pricing-calculator", body)

        self._quotes.place()  # before asking: answers with nowhere to go would be lost
        quotes = await ask_quotes(ask)
        self._quotes.save(quotes)
        log.info("leonardo.prices.refreshed", quotes=len(quotes))
        return leonardo_price_entries({}, self._quotes)

    # -- webhooks ----------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Bearer key, timestamp window, replay: Leonardo's callbacks carry no signature."""
        env = self.settings.webhook_key_env
        expected = self.deps.environ.get(env, "").strip()
        if not expected:
            raise webhook_refused(
                PROVIDER_ID, "no_keys", f"Set {env} to accept Leonardo callbacks."
            )
        scheme, _, token = (header(headers, "Authorization") or "").partition(" ")
        if not token:
            raise webhook_refused(PROVIDER_ID, "missing_headers", "The callback has no bearer key.")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            raise webhook_refused(PROVIDER_ID, "bad_signature", "The callback's key is wrong.")
        payload = callback_body(body) or {}
        stamp = payload.get("timestamp")
        seconds = stamp / 1000 if isinstance(stamp, int | float) else None
        self._guard.check_timestamp(None if seconds is None else str(seconds))
        self._guard.check_not_replayed(f"{callback_object(payload).get('id')}:{stamp}")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """The event of a verified callback (verify it first)."""
        payload = callback_body(body) or {}
        generation = callback_object(payload)
        request_id = generation.get("id")
        if not isinstance(request_id, str):
            raise self.error("Leonardo's callback names no generation.")
        state: JobState
        if generation.get("status") == "COMPLETE":
            found = generation.get("images")
            images = found if isinstance(found, list) else []
            try:
                state = finished(
                    images,
                    model=str(generation.get("modelId") or DEFAULT_MODEL),
                    seed=generation.get("seed"),
                    video=any(isinstance(i, dict) and i.get("motionMP4URL") for i in images),
                    reject_nsfw=self.settings.reject_nsfw,
                )
            except ProviderError as exc:
                state = Failed(exc)
        else:
            state = parse_generation(
                {"generations_by_pk": generation}, model=DEFAULT_MODEL, video=False
            )
        return WebhookEvent(
            provider=PROVIDER_ID,
            request_id=request_id,
            state=state,
            event_id=f"{payload.get('type')}:{request_id}:{payload.get('timestamp')}",
            raw=payload,
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _prepare(self, request: GenerationRequest) -> tuple[LeonardoOptions, str]:
        options = self.check_request(request)
        assert isinstance(options, LeonardoOptions)
        if request.references:
            model = self.model_for_references(request.model, request.capability)
            return options, self._model(model, request.capability)
        return options, self._model(request.model, request.capability)

    def _model(self, model: str | None, capability: Capability) -> str:
        found = model or self.default_model(capability)
        if capability is Capability.IMAGE_TO_VIDEO and found not in VIDEO_MODELS:
            raise InvalidInput(
                f"{found!r} is not a Leonardo image-to-video model.",
                details={"provider": PROVIDER_ID, "known": sorted(VIDEO_MODELS)},
            )
        return found

    async def _image_for(
        self, request: GenerationRequest, options: LeonardoOptions
    ) -> tuple[str, str]:
        if options.image_id:
            return options.image_id, options.image_type
        image = request.images[0]
        extension = _EXTENSIONS.get(image.content_type)
        if image.data is None or extension is None:
            raise InvalidInput(
                "Leonardo animates an image it holds: give options.image_id, or the image as PNG, "
                "JPEG or WebP bytes to upload.",
                details={"provider": PROVIDER_ID},
            )
        return await self._upload(image, extension), "UPLOADED"

    async def _upload_reference(self, image: InputImage) -> str:
        extension = _EXTENSIONS.get(image.content_type)
        if image.data is None or extension is None:
            raise InvalidInput(
                "Leonardo takes a character reference as an uploaded PNG, JPEG or WebP image.",
                details={"provider": PROVIDER_ID, "field": "references"},
            )
        return await self._upload(image, extension)

    async def _upload(self, image: InputImage, extension: str) -> str:
        answer = await self._call(
            "upload_init_image", "POST", "/init-image", {"extension": extension}
        )
        upload = answer.get("uploadInitImage") if isinstance(answer, dict) else None
        try:
            assert isinstance(upload, dict)
            image_id, url = str(upload["id"]), str(upload["url"])
            fields = (
                json.loads(upload["fields"])
                if isinstance(upload["fields"], str)
                else upload["fields"]
            )
            assert isinstance(fields, dict)
        except (AssertionError, KeyError, ValueError):
            raise self.error("Leonardo's upload answer is incomplete.") from None
        files = {"file": (f"image.{extension}", image.data or b"", image.content_type)}
        try:
            # A presigned storage URL: the form fields authorise the upload, the key never goes.
            response = await self.deps.http.post(
                url,
                data={str(k): str(v) for k, v in fields.items()},
                files=files,
                timeout=self.settings.timeout_s,
            )
        except httpx.HTTPError as exc:
            raise leonardo_error("upload", exc) from None
        except httpx.InvalidURL:
            raise self.error("Leonardo's upload URL is invalid.") from None
        if response.is_error:
            raise leonardo_error("upload", response)
        log.info("leonardo.image.uploaded", image_id=image_id)
        return image_id

    async def _call(self, operation: str, method: str, path: str, json_body: Any = None) -> Any:
        headers = {
            "User-Agent": f"reelforge/{__version__}",
            "Accept": "application/json",
            "Authorization": f"Bearer {self.api_key()}",
        }
        response = await _HTTP.send(
            self.deps.http,
            operation,
            method,
            f"{self.settings.api_root()}{path}",
            headers=headers,
            timeout_s=self.settings.timeout_s,
            json=json_body,
        )
        return loads_json(response.content, operation)


def _path_id(request_id: str) -> str:
    if not request_id.replace("-", "").isalnum():
        raise InvalidInput(f"{request_id!r} is not a Leonardo generation id.")
    return request_id
