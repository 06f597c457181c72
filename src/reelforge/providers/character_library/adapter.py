"""The Character Library adapter: master reference, 360° set and scene images, and the delete.

The Character Library is a sibling service (``/work/shared/spec/character-image-workspace.md``)
with no key: its root is ``providers.character_library.base_url``, else the environment variable
``CHARACTER_LIBRARY_API_URL``, read at each call. Every call is synchronous (request -> result; no
queue, no webhooks, the 360° set comes back all at once), so ``submit`` makes the call and keeps
the finished job in this process (bounded, like the local studio's jobs) and ``status`` reads it
back; after a restart it reports the job failed: submit again. ``run`` and the three named methods
return the result directly. Each image is an ``OutputMedia(url=publicUrl)`` to ingest: this
adapter never stores or links anything, it returns the URLs. ``cancel`` is a no-op (the call has
finished before ``submit`` returns). Nothing is retried here; an HTTP 500 is a
:class:`CharacterLibraryError` surfaced as is (spec: "do not retry"), not ProviderUnavailable.

The spec names only ``publicUrl`` and the delete route; the rest is ASSUMED, and the emulator
(``reelforge.emulator.character_library``) serves exactly this::

    POST {root}/api/v1/characters/reference-image
        {"prompt": str, "libraryDbId"?: str, "characterId"?: str, "negativePrompt"?: str,
         "referenceImageUrl"?: str, "width": int, "height": int, "seed"?: int}
        -> 200 {"success": true, "requestId": str, "libraryDbId": str, "imageId": str,
                "publicUrl": str, "durationMs": int}
        (without libraryDbId the library creates the character and answers its new id)
    POST {root}/api/v1/characters/360-set
        {"libraryDbId": str, "referenceImageUrl"?: str, "prompt"?: str, "width", "height",
         "seed"?}
        -> 200 {"success": true, "requestId", "libraryDbId",
                "images": [{"imageId", "publicUrl", "angle"}, ...], "durationMs"}
    POST {root}/api/v1/characters/scene-image
        {"libraryDbId": str, "sceneContext": str, "referenceImageUrl"?: str, "width", "height",
         "seed"?}
        -> 200 {"success": true, "requestId", "libraryDbId", "imageId", "publicUrl", "durationMs"}
    DELETE {root}/api/v1/characters/{libraryDbId}/reference-image
        -> 200 {"success": true}; 404 {"success": false, "error": ...} when there is none
    Errors: {"success": false, "error": str, "code"?: str} with the HTTP status; a refused
    prompt is 422 with code CONTENT_REJECTED.

``referenceImageUrl`` is an http(s) URL the library fetches, or a ``data:<type>;base64,...`` URI
holding the image itself (see :class:`CharacterLibraryProvider` for why bytes go inline).

Through the generic contract, ``options.kind`` picks the call (``reference``, ``portfolio`` for
the 360° set, ``scene`` with the prompt as the scene context); unset, the model's kind, else
``reference`` for text→image and ``portfolio`` for image→image (:mod:`.calls` builds the
bodies). The 360° set and the scene need ``options.library_db_id``.
"""

from __future__ import annotations

import re
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
    CharacterKeeper,
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
    Succeeded,
)
from reelforge.providers.character_library.calls import (
    CharacterLibraryOptions,
    call_kind,
    common_fields,
    default_kind,
    library_call,
    library_model,
    present,
)
from reelforge.providers.character_library.wire import (
    PROVIDER_ID,
    URL_ENV,
    CharacterLibraryError,
    LibraryKind,
    character_library_error,
    finished,
    loads_json,
)
from reelforge.providers.http import ProviderHttp
from reelforge.providers.pricing import MAX_PRICE_USD, PriceEntry, price_entry

__all__ = ["CharacterLibraryOptions", "CharacterLibraryProvider", "CharacterLibrarySettings"]

log = get_logger(__name__)

_ROUTES: dict[LibraryKind, str] = {
    "reference": "reference-image",
    "portfolio": "360-set",
    "scene": "scene-image",
}
_LIBRARY_ID = re.compile(r"^[\w\-.]+$")


def _invalid_url(_operation: str) -> ConfigurationError:
    # The root is the only URL here, and it may come from the environment: name both places.
    return ConfigurationError(
        f"The Character Library URL is invalid: check {URL_ENV} or "
        "providers.character_library.base_url.",
        details={"provider": PROVIDER_ID, "env_var": URL_ENV},
    )


_HTTP = ProviderHttp(PROVIDER_ID, character_library_error, _invalid_url)


class CharacterLibrarySettings(ProviderSettings):
    """``providers.character_library``: root (else ``CHARACTER_LIBRARY_API_URL``), price."""

    timeout_s: float = Field(default=300.0, gt=0, description="The 360° set comes back at once")
    price_per_image_usd: Decimal = Field(default=Decimal(0), ge=0, lt=MAX_PRICE_USD)
    price_source: str = "internal service, no price on record"
    kept_results: int = Field(default=256, ge=1, le=10_000)


class CharacterLibraryProvider(Provider[CharacterLibrarySettings], CharacterKeeper):
    """The Character Library's reference, 360° set and scene images (synchronous, no key).

    A reference image we hold as bytes (all the engine ever hands an adapter) goes to the
    library inline, as a ``data:`` URI in ``referenceImageUrl``; one given by URL goes as that
    URL. Handing the library a URL of our media store instead was weighed and refused: the
    library is a sibling service that may not reach our store (a local store has no public URL
    at all, and one behind a public base URL may still be private to the library's network),
    and it would need the engine to know which providers fetch their inputs. A data URI always
    arrives, at the cost of a JSON body about a third larger than the image, which for one
    reference portrait on an internal, synchronous call is fine. fal, Replicate and Runway take
    our bytes the same way."""

    id: ClassVar[str] = PROVIDER_ID
    display_name: ClassVar[str] = "Character Library"
    vendor_name: ClassVar[str] = "The Character Library"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.TEXT_TO_IMAGE, Capability.IMAGE_TO_IMAGE}
    )
    options_model: ClassVar[type[ProviderOptions]] = CharacterLibraryOptions
    settings_model: ClassVar[type[ProviderSettings]] = CharacterLibrarySettings
    error_class: ClassVar[type[ProviderError]] = CharacterLibraryError
    aliases: ClassVar[frozenset[str]] = frozenset({"character-library", "characterlibrary"})
    #: A text→image request's one ``referenceImageUrl`` (see :mod:`.calls`); image→image already
    #: sends its input image there.
    reference_images: ClassVar[Mapping[Capability, int]] = MappingProxyType(
        {Capability.TEXT_TO_IMAGE: 1}
    )

    def __init__(self, settings: CharacterLibrarySettings, deps: ProviderDeps) -> None:
        super().__init__(settings, deps)
        self._finished: OrderedDict[str, Succeeded] = OrderedDict()

    # -- the library's own operations --------------------------------------------------------

    async def generate_reference(
        self,
        prompt: str,
        *,
        library_db_id: str | None = None,
        character_id: str | None = None,
        negative_prompt: str = "",
        width: int = 1024,
        height: int = 1024,
        seed: int | None = None,
    ) -> Succeeded:
        """The character's master reference image (``publicUrl``); creates the library
        character when ``library_db_id`` is not given (its id is in ``metadata.extra``)."""
        body = common_fields(width, height, seed) | present(
            prompt=prompt,
            libraryDbId=library_db_id,
            characterId=character_id,
            negativePrompt=negative_prompt,
        )
        return (await self._generate("reference", body))[1]

    async def generate_360_set(
        self,
        library_db_id: str,
        *,
        reference_url: str | None = None,
        prompt: str = "",
        width: int = 1024,
        height: int = 1024,
        seed: int | None = None,
    ) -> Succeeded:
        """The full 360° set, all images at once, optionally from a chosen reference image."""
        body = common_fields(width, height, seed) | present(
            libraryDbId=library_db_id, referenceImageUrl=reference_url, prompt=prompt
        )
        return (await self._generate("portfolio", body))[1]

    async def generate_scene(
        self,
        library_db_id: str,
        scene_context: str,
        *,
        reference_url: str | None = None,
        width: int = 1280,
        height: int = 720,
        seed: int | None = None,
    ) -> Succeeded:
        """A scene-specific image of the character."""
        body = common_fields(width, height, seed) | present(
            libraryDbId=library_db_id, sceneContext=scene_context, referenceImageUrl=reference_url
        )
        return (await self._generate("scene", body))[1]

    async def delete_reference_image(self, library_db_id: str) -> bool:
        """Ask the library once (no retry) to delete the character's reference image; whether
        it did. A missing root is a configuration error; every remote failure is ``False``."""
        url = f"{self._root()}/api/v1/characters/{_library_id(library_db_id)}/reference-image"
        try:
            response = await self.deps.http.delete(
                url, headers=_headers(), timeout=self.settings.timeout_s
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.warning(
                "character_library.reference.delete_failed",
                library_db_id=library_db_id,
                reason=type(exc).__name__,
            )
            return False
        if not response.is_success:
            log.warning(
                "character_library.reference.delete_failed",
                library_db_id=library_db_id,
                status=response.status_code,
            )
            return False
        log.info("character_library.reference.deleted", library_db_id=library_db_id)
        return True

    # -- the generic contract ----------------------------------------------------------------

    async def run(self, request: GenerationRequest) -> Succeeded:
        """The library call ``options.kind`` names, synchronously."""
        return (await self._generate(*self._prepare(request)))[1]

    async def submit(self, request: GenerationRequest) -> JobHandle:
        kind, body = self._prepare(request)
        request_id, result = await self._generate(kind, body)
        self._finished[request_id] = result
        while len(self._finished) > self.settings.kept_results:
            self._finished.popitem(last=False)
        return JobHandle(provider=PROVIDER_ID, request_id=request_id, model=result.metadata.model)

    def held_result(self, handle: JobHandle) -> Succeeded | None:
        """The library's synchronous answer to :meth:`submit`."""
        return self._finished.get(handle.request_id)

    async def status(self, handle: JobHandle) -> JobState:
        kept = self._finished.get(handle.request_id)
        if kept is not None:
            return kept
        return Failed(
            CharacterLibraryError(
                "This Character Library job is not held here (the process may have restarted); "
                "submit it again.",
                provider=PROVIDER_ID,
                details={"request_id": handle.request_id},
            )
        )

    async def cancel(self, handle: JobHandle) -> None:
        """A no-op: the library answers synchronously, so the job is over when submit returns."""

    @classmethod
    def is_configured(cls, section: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
        """Whether the library has an address (it takes no key)."""
        return bool(section.get("base_url") or environ.get(URL_ENV, "").strip())

    def default_model(self, capability: Capability) -> str:
        return library_model(default_kind(capability))

    def priced(self, query: PriceQuery) -> CostEstimate:
        options = self.validate_options(query.options)
        assert isinstance(options, CharacterLibraryOptions)
        kind = call_kind(query.capability, query.model, options)
        price = self.settings.price_per_image_usd
        return CostEstimate(
            provider=PROVIDER_ID,
            model=library_model(kind),
            amount_usd=price,
            basis=(
                f"1 image x ${price}/image ({self.settings.price_source}; a 360° set is "
                "billed per image returned; set providers.character_library.price_per_image_usd)"
            ),
        )

    def price_entries(self) -> list[PriceEntry]:
        settings = self.settings
        origin = "providers.character_library.price_per_image_usd"
        usd = settings.price_per_image_usd
        return [price_entry(PROVIDER_ID, "*", "image", usd, settings.price_source, origin)]

    # -- plumbing ----------------------------------------------------------------------------

    def _prepare(self, request: GenerationRequest) -> tuple[LibraryKind, dict[str, Any]]:
        options = self.check_request(request)
        assert isinstance(options, CharacterLibraryOptions)
        return library_call(request, options)

    async def _generate(self, kind: LibraryKind, body: dict[str, Any]) -> tuple[str, Succeeded]:
        url = f"{self._root()}/api/v1/characters/{_ROUTES[kind]}"
        response = await _HTTP.send(
            self.deps.http,
            kind,
            "POST",
            url,
            headers=_headers(),
            timeout_s=self.settings.timeout_s,
            json=body,
        )
        price = self.settings.price_per_image_usd
        request_id, result = finished(kind, loads_json(response), body, price)
        log.info("character_library.job.finished", request_id=request_id, kind=kind)
        return request_id, result

    def _root(self) -> str:
        root = self.settings.base_url or self.deps.environ.get(URL_ENV, "").strip()
        if not root:
            raise ConfigurationError(
                f"The Character Library has no address: set the environment variable {URL_ENV} "
                "(or providers.character_library.base_url).",
                details={"provider": PROVIDER_ID, "env_var": URL_ENV},
            )
        return root.rstrip("/")


def _headers() -> dict[str, str]:
    return {"User-Agent": f"reelforge/{__version__}", "Accept": "application/json"}


def _library_id(value: str) -> str:
    if not _LIBRARY_ID.match(value):
        raise InvalidInput(f"{value!r} is not a Character Library id.")
    return value
