"""The Character Library on loopback: exactly the shapes assumed in
:mod:`reelforge.providers.character_library.adapter` (the spec names only ``publicUrl`` and the
delete route).

Mounted at ``/character_library``; that path is the service root (``CHARACTER_LIBRARY_API_URL``).
No key. Every generation is synchronous (the request waits ``latency_s``):

- ``POST /api/v1/characters/reference-image`` (operation ``reference_image``): needs ``prompt``;
  without ``libraryDbId`` a library character is created; answers ``requestId``,
  ``libraryDbId``, ``imageId``, ``publicUrl``, ``durationMs``.
- ``POST /api/v1/characters/360-set`` (``generate_360_set``): needs a known ``libraryDbId``;
  answers eight ``images`` (front, front-right, right, back-right, back, back-left, left,
  front-left), each ``{imageId, publicUrl, angle}``.
- ``POST /api/v1/characters/scene-image`` (``scene_image``): needs a known ``libraryDbId`` and
  ``sceneContext``.
- ``referenceImageUrl`` (optional on all three: a character's look for the master reference and
  the scene, the chosen reference for the 360° set): an http(s) URL is taken as given (not
  fetched: the still is made regardless), a ``data:image/...;base64,...`` URI must decode to an
  image (PIL opens it), anything else is 400. Only the decoded size and digest are kept with the
  job; the image is the job's reference in the ledger's ``received``.
- ``DELETE /api/v1/characters/{libraryDbId}/reference-image`` (``delete_reference_image``): 200
  ``{"success": true}`` once, then 404 (no reference image any more).

Errors are ``{"success": false, "error": ..., "code"?: ...}``: unknown character 404, missing
field 400, content rejection 422 with code ``CONTENT_REJECTED``, a failed generation 500. The
set size, the angle names and the error codes are this emulator's choices. The library is an
internal service: each image is billed at $0 (unit ``image``), so the ledger still counts them.
The three generate calls are the accept calls a ``hold_accept`` fault holds (after generating
and billing). The library documents no listing of past generations.
"""

from __future__ import annotations

import base64
import binascii
import io
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from reelforge.emulator.base import (
    Billing,
    EmulatedProvider,
    EmulatorContext,
    FaultAnswer,
    describe_image,
    file_url,
    json_body,
)
from reelforge.emulator.state import FaultKind, Job

__all__ = ["CharacterLibraryEmulator"]

ANGLES = (
    "front",
    "front-right",
    "right",
    "back-right",
    "back",
    "back-left",
    "left",
    "front-left",
)
_KEPT_CHARACTERS = 10_000
_ROUTES = {
    "reference_image": "reference",
    "generate_360_set": "portfolio",
    "scene_image": "scene",
}


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "error": message}
    if code is not None:
        body["code"] = code
    return JSONResponse(body, status_code=status)


_FAULT_ANSWERS: dict[FaultKind, FaultAnswer] = {
    FaultKind.HTTP_500: lambda _: _error(500, "Internal Server Error"),
    FaultKind.HTTP_503: lambda _: _error(503, "Service Unavailable"),
    FaultKind.HTTP_429: lambda _: _error(429, "Too Many Requests"),
    FaultKind.HTTP_401: lambda _: _error(401, "Unauthorized"),
    FaultKind.HANG: lambda _: _error(504, "Gateway Timeout"),
    FaultKind.INVALID_INPUT: lambda _: _error(400, "prompt is required"),
    FaultKind.CONTENT_REJECTED: lambda _: _error(
        422, "The prompt was rejected by the content filter.", "CONTENT_REJECTED"
    ),
}


class CharacterLibraryEmulator(EmulatedProvider):
    """The library's reference, 360° set and scene images, and the reference delete."""

    id: ClassVar[str] = "character_library"
    fault_answers: ClassVar[Mapping[FaultKind, FaultAnswer]] = _FAULT_ANSWERS
    accept_operations: ClassVar[frozenset[str]] = frozenset(_ROUTES)

    def __init__(self, context: EmulatorContext) -> None:
        super().__init__(context)
        # libraryDbId -> whether the character has a reference image.
        self._characters: OrderedDict[str, bool] = OrderedDict()

    @classmethod
    def environment(cls, base_url: str) -> dict[str, str]:
        return {"CHARACTER_LIBRARY_API_URL": f"{base_url}/character_library"}

    def routes(self) -> Sequence[BaseRoute]:
        characters = "/api/v1/characters"
        return [
            *(
                self.endpoint(
                    f"{characters}/{path}", operation, self._generator(operation), methods=["POST"]
                )
                for operation, path in (
                    ("reference_image", "reference-image"),
                    ("generate_360_set", "360-set"),
                    ("scene_image", "scene-image"),
                )
            ),
            self.endpoint(
                f"{characters}/{{library_db_id}}/reference-image",
                "delete_reference_image",
                self._delete,
                methods=["DELETE"],
            ),
        ]

    # -- endpoints ---------------------------------------------------------------------------

    def _generator(self, operation: str) -> Any:
        kind = _ROUTES[operation]

        async def generate(request: Request) -> Response:
            return await self._generate(request, kind)

        return generate

    async def _generate(self, request: Request, kind: str) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            return _error(400, "The body must be a JSON object.")
        problem = self._problem(kind, body)
        if problem is not None:
            return problem
        library_id = body.get("libraryDbId")
        if kind == "reference" and not library_id:
            library_id = f"chr_{uuid.uuid4().hex[:12]}"
        body = _without_inline_image(body) | {"libraryDbId": library_id}
        job = self.new_job(request, f"character-library/{kind}", body, route=kind)
        await self.run_inline(job)
        if job.error is FaultKind.CONTENT_REJECTED:
            return _error(422, "The prompt was rejected by the content filter.", "CONTENT_REJECTED")
        if job.error is not None or job.output is None:
            return _error(500, "Image generation failed.")
        if kind == "reference":
            self._characters[str(library_id)] = True
            while len(self._characters) > _KEPT_CHARACTERS:
                self._characters.popitem(last=False)
        return JSONResponse(job.output)

    def _problem(self, kind: str, body: dict[str, Any]) -> Response | None:
        library_id = body.get("libraryDbId")
        if kind == "reference":
            if not str(body.get("prompt") or "").strip():
                return _error(400, "prompt is required")
            return _reference_problem(body.get("referenceImageUrl"))
        if not library_id:
            return _error(400, "libraryDbId is required")
        if str(library_id) not in self._characters:
            return _error(404, "Character not found")
        if kind == "scene" and not str(body.get("sceneContext") or "").strip():
            return _error(400, "sceneContext is required")
        return _reference_problem(body.get("referenceImageUrl"))

    async def _delete(self, request: Request) -> Response:
        library_id = request.path_params["library_db_id"]
        if not self._characters.get(library_id):
            return _error(404, "No reference image for this character")
        self._characters[library_id] = False
        return JSONResponse({"success": True})

    # -- jobs --------------------------------------------------------------------------------

    async def produce(self, job: Job) -> dict[str, Any]:
        args = job.arguments
        width, height = _size(args.get("width"), 1024), _size(args.get("height"), 1024)
        still = await self.media.image(width, height, "png")
        url = file_url(job, still.name)
        answer: dict[str, Any] = {
            "success": True,
            "requestId": job.request_id,
            "libraryDbId": args["libraryDbId"],
            "durationMs": round(self.state.config.latency_s * 1000),
        }
        if job.route == "portfolio":
            answer["images"] = [
                {"imageId": f"img_{job.request_id[:8]}_{i}", "publicUrl": url, "angle": angle}
                for i, angle in enumerate(ANGLES)
            ]
            return answer
        return answer | {"imageId": f"img_{job.request_id[:8]}", "publicUrl": url}

    def references(self, model: str, arguments: Any) -> list[dict[str, Any]]:
        if not isinstance(arguments, dict):
            return []
        kept = arguments.get("referenceImage")
        if isinstance(kept, dict):
            return [kept]
        url = arguments.get("referenceImageUrl")
        return [describe_image(url)] if isinstance(url, str) else []

    def bill(self, job: Job) -> Billing:
        count = len(ANGLES) if job.route == "portfolio" else 1
        return Billing(count, "image", Decimal(0))


def _reference_problem(reference: Any) -> Response | None:
    """Why ``referenceImageUrl`` is refused: not an http(s) URL, nor a data URI of an image."""
    if reference is None:
        return None
    if isinstance(reference, str) and reference.startswith(("https://", "http://")):
        return None
    if isinstance(reference, str) and reference.startswith("data:"):
        if _inline_image(reference) is not None:
            return None
        return _error(400, "referenceImageUrl is not a base64 data URI of an image")
    return _error(400, "referenceImageUrl must be an http(s) URL or a data URI")


def _inline_image(uri: str) -> bytes | None:
    """The image a ``data:image/...;base64,...`` URI holds, or None when it holds none."""
    header, _, payload = uri.partition(",")
    media_type, _, encoding = header.removeprefix("data:").partition(";")
    if not media_type.startswith("image/") or encoding != "base64":
        return None
    try:
        data = base64.b64decode(payload, validate=True)
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (binascii.Error, ValueError, OSError, SyntaxError, Image.DecompressionBombError):
        return None
    return data


def _without_inline_image(body: dict[str, Any]) -> dict[str, Any]:
    """The job's arguments: an inline reference image is kept as its size and digest, not its
    bytes."""
    reference = body.get("referenceImageUrl")
    if not isinstance(reference, str) or not reference.startswith("data:"):
        return body
    data = _inline_image(reference) or b""
    kept = {key: value for key, value in body.items() if key != "referenceImageUrl"}
    return kept | {"referenceImageBytes": len(data), "referenceImage": describe_image(reference)}


def _size(value: Any, fallback: int) -> int:
    return value if isinstance(value, int) and 64 <= value <= 4096 else fallback
