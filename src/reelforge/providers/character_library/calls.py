"""Which library call a generic request makes, and the body it sends (shapes in :mod:`.adapter`).

The call (``kind``) is what ``options.kind`` names, else what the model names
(``character-library/<kind>``), else the capability's own: text→image makes the master reference,
image→image the 360° set from the given reference image (the spec's "Select a reference image +
Start Portfolio"). The reference image goes as ``referenceImageUrl``: its URL when it has one,
else a data URI of its bytes (why: :class:`~.adapter.CharacterLibraryProvider`). A text→image
request's one reference image (a character's look, :attr:`GenerationRequest.references`) goes
the same way, on whichever call it makes: the library's one field for an image to work from.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from reelforge.errors import InvalidInput
from reelforge.providers.base import (
    Capability,
    GenerationRequest,
    InputImage,
    ProviderOptions,
)
from reelforge.providers.character_library.wire import PROVIDER_ID, LibraryKind

__all__ = [
    "CharacterLibraryOptions",
    "call_kind",
    "common_fields",
    "default_kind",
    "library_call",
    "library_model",
    "present",
    "reference_image_url",
]

KINDS: tuple[LibraryKind, ...] = ("reference", "portfolio", "scene")
#: The call a capability makes when neither ``options.kind`` nor the model names one.
_DEFAULT_KINDS: dict[Capability, LibraryKind] = {
    Capability.TEXT_TO_IMAGE: "reference",
    Capability.IMAGE_TO_IMAGE: "portfolio",
}


class CharacterLibraryOptions(ProviderOptions):
    """Which library call a generic request makes, and for which library character."""

    kind: LibraryKind | None = Field(
        default=None,
        description="reference, portfolio (the 360° set) or scene; unset: the model's kind, "
        "else reference for text→image and portfolio for image→image",
    )
    library_db_id: str | None = Field(default=None, description="The library's character id")
    character_id: str | None = Field(default=None, description="Our character id, passed along")


def library_model(kind: LibraryKind) -> str:
    return f"character-library/{kind}"


def default_kind(capability: Capability) -> LibraryKind:
    return _DEFAULT_KINDS.get(capability, "reference")


def call_kind(
    capability: Capability, model: str | None, options: CharacterLibraryOptions
) -> LibraryKind:
    """The library call the options, the model or the capability name (in that order), refused
    where it cannot serve the capability."""
    named = _model_kind(model)
    if options.kind is not None and named is not None and named != options.kind:
        raise InvalidInput(
            f"Model {model!r} makes {named} images, but options.kind is {options.kind!r}: name "
            "one of them.",
            details={"provider": PROVIDER_ID, "field": "kind"},
        )
    kind = options.kind or named or default_kind(capability)
    if capability is Capability.IMAGE_TO_IMAGE and kind == "reference":
        raise InvalidInput(
            "The master reference is made from a prompt; image→image is for the 360° set "
            "(kind 'portfolio') and scenes (kind 'scene').",
            details={"provider": PROVIDER_ID},
        )
    if kind != "reference" and not options.library_db_id:
        raise InvalidInput(
            f"A {kind} image needs options.library_db_id (the library's character id, which "
            "a master reference call answers).",
            details={"provider": PROVIDER_ID, "field": "library_db_id"},
        )
    return kind


def library_call(
    request: GenerationRequest, options: CharacterLibraryOptions
) -> tuple[LibraryKind, dict[str, Any]]:
    """The call ``request`` makes and its JSON body (the request already checked)."""
    kind = call_kind(request.capability, request.model, options)
    reference_url = None
    if request.capability is Capability.IMAGE_TO_IMAGE:
        reference_url = reference_image_url(request.images[0])
    elif request.references:
        reference_url = reference_image_url(request.references[0])
    body = common_fields(request.width, request.height, request.seed) | present(
        libraryDbId=options.library_db_id, referenceImageUrl=reference_url
    )
    if kind == "reference":
        body |= present(
            prompt=request.prompt,
            characterId=options.character_id,
            negativePrompt=request.negative_prompt,
        )
    elif kind == "portfolio":
        body |= present(prompt=request.prompt)
    else:
        body["sceneContext"] = request.prompt
    return kind, body


def reference_image_url(image: InputImage) -> str:
    """``referenceImageUrl``: the image's URL, or a data URI of the bytes we hold."""
    return image.as_url()


def common_fields(width: int, height: int, seed: int | None) -> dict[str, Any]:
    return {"width": width, "height": height} | present(seed=seed)


def present(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value not in (None, "")}


def _model_kind(model: str | None) -> LibraryKind | None:
    """The kind a model names (None when none is named); a model the library lacks is refused."""
    if model is None:
        return None
    for kind in KINDS:
        if model == library_model(kind):
            return kind
    raise InvalidInput(
        f"The Character Library has no model {model!r}: its models are "
        f"{', '.join(library_model(kind) for kind in KINDS)} (or name none).",
        details={"provider": PROVIDER_ID, "field": "model"},
    )
