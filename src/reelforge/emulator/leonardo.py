"""Leonardo.Ai's REST API on loopback (reference §5).

Mounted at ``/leonardo``; ``/leonardo/api/rest/v1`` stands for
``https://cloud.leonardo.ai/api/rest/v1``. Authentication: ``Authorization: Bearer <key>``, any
key.

- ``POST .../generations`` (operation ``create_generation``) -> ``{"sdGenerationJob":
  {"generationId", "apiCreditCost"}}``; ``num_images`` PNG stills of ``width`` x ``height``.
- ``POST .../generations-image-to-video`` (``create_image_to_video``) -> ``{"motionVideoGeneration
  Job": {"generationId", "apiCreditCost"}}``; ``imageType: UPLOADED`` must name an uploaded image.
- ``GET .../generations/{id}`` (``get_generation``) -> ``{"generations_by_pk": {...}}`` with
  ``status`` ``PENDING`` (queued or running), ``COMPLETE`` or ``FAILED``, and ``generated_images``
  (``id``, ``url``, ``nsfw``, ``likeCount``; clips also ``motionMP4URL``, ``motion``,
  ``imageToVideo``); an unknown id answers ``{"generations_by_pk": null}``.
- ``GET .../me`` (``get_user``) and ``GET .../generations/user/{userId}?offset&limit``
  (``list_generations``): the emulator's one user, and its generations newest first, each shaped
  as ``generations_by_pk`` (see :mod:`reelforge.emulator.listings`).
- ``POST .../init-image`` (``upload_init_image``) -> ``{"uploadInitImage": {"id", "url",
  "fields", "key"}}``, ``fields`` a JSON string; ``url`` is the emulator's stand-in for the
  presigned storage URL: ``POST /leonardo/_storage/{id}`` (``upload``, no auth) takes the multipart
  form and answers 204.
- A generation's ``controlnets`` (``initImageId``, ``initImageType``, ``preprocessorId``,
  ``strengthType`` Low/Mid/High) must name stored uploads when ``UPLOADED``; those with
  ``preprocessorId`` 133 (Character Reference) are its references in the ledger's ``received``,
  described by the uploaded file's sha256 and content type.

Accept calls (for ``hold_accept``): ``create_generation`` and ``create_image_to_video``.

Guesses where §5 is silent (the adapter's wire module lists the same ones): error bodies are
``{"error", "path", "code"}``; a moderation refusal is a 400 with code ``content-moderation``; a
job-level content rejection finishes ``COMPLETE`` with every image flagged ``nsfw``; a failed job
is ``FAILED``; the clip URL is ``motionMP4URL`` (§8). There is no cancel (Leonardo has none) and no
callback (Leonardo's is configured per API key, not per request). Submit answers carry the
pay-as-you-go ``cost`` in dollars (``apiCreditCost`` null, as Leonardo's reference shows), the
same figure the ledger records and the pricing calculator (``POST /pricing-calculator``) quotes:
the emulator's own rates (:mod:`reelforge.emulator.leonardo_pricing`).
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from reelforge.emulator.base import (
    Billing,
    EmulatedProvider,
    EmulatorContext,
    FaultAnswer,
    describe_bytes,
    file_url,
    json_body,
)
from reelforge.emulator.leonardo_pricing import (
    clip_usd,
    configured_prices,
    image_usd,
    pricing_answer,
)
from reelforge.emulator.listings import leonardo_generations, leonardo_me
from reelforge.emulator.state import FaultKind, Job, JobPhase

__all__ = ["LeonardoEmulator"]

DUMMY_KEY = "emulator-leonardo-key"
_API = "/api/rest/v1"
_VIDEO_MODELS = ("MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5")
_KEPT_UPLOADS = 10_000
_CHARACTER_REFERENCE = 133
_STRENGTHS = ("Low", "Mid", "High", "Ultra", "Max")


def _error(status: int, message: str, code: str, path: str = "$") -> JSONResponse:
    return JSONResponse({"error": message, "path": path, "code": code}, status_code=status)


_FAULT_ANSWERS: dict[FaultKind, FaultAnswer] = {
    FaultKind.HTTP_500: lambda _: _error(500, "Internal server error.", "unexpected"),
    FaultKind.HTTP_503: lambda _: _error(503, "Service temporarily unavailable.", "unexpected"),
    FaultKind.HTTP_429: lambda _: _error(429, "Too many requests, please slow down.", "rate-limit"),
    FaultKind.HTTP_401: lambda _: _error(401, "Invalid API key.", "invalid-jwt", "$.headers"),
    FaultKind.HANG: lambda _: _error(504, "Gateway timeout.", "timeout"),
    FaultKind.INVALID_INPUT: lambda _: _error(
        400, "expected an integer for 'width'", "validation-failed", "$.width"
    ),
    FaultKind.CONTENT_REJECTED: lambda _: _error(
        400, "Your prompt was flagged by our content moderation filter.", "content-moderation"
    ),
}


class LeonardoEmulator(EmulatedProvider):
    """Leonardo's generations, image-to-video motion and init-image upload."""

    id: ClassVar[str] = "leonardo"
    fault_answers: ClassVar[Mapping[FaultKind, FaultAnswer]] = _FAULT_ANSWERS
    accept_operations: ClassVar[frozenset[str]] = frozenset(
        {"create_generation", "create_image_to_video"}
    )

    def __init__(self, context: EmulatorContext) -> None:
        super().__init__(context)
        # An upload id -> the stored file as the ledger describes it (None: not uploaded yet).
        self._uploads: OrderedDict[str, dict[str, Any] | None] = OrderedDict()

    @classmethod
    def environment(cls, base_url: str) -> dict[str, str]:
        return {
            "REELFORGE_PROVIDERS__LEONARDO__BASE_URL": f"{base_url}/leonardo{_API}",
            "LEONARDO_API_KEY": DUMMY_KEY,
            "REELFORGE_PROVIDERS__LEONARDO__PRICES": configured_prices(),
        }

    def routes(self) -> Sequence[BaseRoute]:
        return [
            self.endpoint(
                f"{_API}/generations", "create_generation", self._create, methods=["POST"]
            ),
            self.endpoint(
                f"{_API}/generations-image-to-video",
                "create_image_to_video",
                self._create_video,
                methods=["POST"],
            ),
            self.endpoint(
                f"{_API}/generations/{{request_id}}",
                "get_generation",
                self._get,
                methods=["GET"],
            ),
            self.endpoint(f"{_API}/me", "get_user", self._me, methods=["GET"]),
            self.endpoint(
                f"{_API}/generations/user/{{user_id}}",
                "list_generations",
                self._list,
                methods=["GET"],
            ),
            self.endpoint(
                f"{_API}/init-image", "upload_init_image", self._init_image, methods=["POST"]
            ),
            self.endpoint(
                "/_storage/{upload_id}", "upload", self._store, methods=["POST"], public=True
            ),
            self.endpoint(
                f"{_API}/pricing-calculator", "pricing_calculator", self._price, methods=["POST"]
            ),
        ]

    def authenticate(self, request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(key.strip())

    def unauthorized_response(self) -> Response:
        return _error(401, "Invalid authentication token.", "invalid-jwt", "$.headers")

    # -- endpoints ---------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not str(body.get("prompt") or "").strip():
            return _error(400, "prompt is required", "validation-failed", "$.prompt")
        for side in ("width", "height"):
            value = body.get(side, 768)
            if not isinstance(value, int) or not 32 <= value <= 1536 or value % 8:
                return _error(
                    400, f"{side} must be a multiple of 8 from 32 to 1536", "validation-failed"
                )
        problem = self._controlnets_problem(body.get("controlnets"))
        if problem is not None:
            return problem
        model = str(body.get("modelId") or "leonardo-default")
        job = self.new_job(request, model, body, route="image")
        self.start_job(job)
        return JSONResponse(
            {
                "sdGenerationJob": {
                    "generationId": job.request_id,
                    "apiCreditCost": None,
                    "cost": _dollars(self.bill(job).amount_usd),
                }
            }
        )

    def _controlnets_problem(self, controlnets: Any) -> Response | None:
        if controlnets is None:
            return None
        path = "$.controlnets"
        if not isinstance(controlnets, list):
            return _error(400, "controlnets must be a list", "validation-failed", path)
        for net in controlnets:
            if not isinstance(net, dict) or not isinstance(net.get("preprocessorId"), int):
                return _error(400, "preprocessorId is required", "validation-failed", path)
            if net.get("initImageType") not in ("GENERATED", "UPLOADED"):
                return _error(400, "initImageType is GENERATED or UPLOADED", "validation-failed")
            if net.get("strengthType", "Mid") not in _STRENGTHS:
                return _error(400, "strengthType is not Low to Max", "validation-failed")
            uploaded = self._uploads.get(str(net.get("initImageId")))
            if net["initImageType"] == "UPLOADED" and uploaded is None:
                return _error(400, "The init image was not found.", "not-found", path)
        return None

    def references(self, model: str, arguments: Any) -> list[dict[str, Any]]:
        nets = arguments.get("controlnets") if isinstance(arguments, dict) else None
        return [
            self._uploads.get(str(net.get("initImageId"))) or {"unreadable": "initImageId"}
            for net in (nets if isinstance(nets, list) else ())
            if isinstance(net, dict) and net.get("preprocessorId") == _CHARACTER_REFERENCE
        ]

    async def _create_video(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not body.get("imageId"):
            return _error(400, "imageId is required", "validation-failed", "$.imageId")
        if body.get("imageType") not in ("GENERATED", "UPLOADED"):
            return _error(400, "imageType must be GENERATED or UPLOADED", "validation-failed")
        if body.get("imageType") == "UPLOADED" and str(body["imageId"]) not in self._uploads:
            return _error(400, "The init image was not found.", "not-found", "$.imageId")
        model = str(body.get("model") or "MOTION2")
        if model not in _VIDEO_MODELS:
            return _error(400, f"Unknown model {model}", "validation-failed", "$.model")
        job = self.new_job(request, model, body, route="video")
        self.start_job(job)
        return JSONResponse(
            {
                "motionVideoGenerationJob": {
                    "generationId": job.request_id,
                    "apiCreditCost": None,
                    "cost": _dollars(self.bill(job).amount_usd),
                }
            }
        )

    async def _get(self, request: Request) -> Response:
        job = self.state.jobs.get(request.path_params["request_id"])
        if job is None or job.provider != self.id:
            return JSONResponse({"generations_by_pk": None})
        return JSONResponse({"generations_by_pk": self._generation(job)})

    async def _price(self, request: Request) -> Response:
        return pricing_answer(await json_body(request), _error)

    async def _me(self, _request: Request) -> Response:
        return leonardo_me()

    async def _list(self, request: Request) -> Response:
        jobs = (job for job in self.state.jobs.values() if job.provider == self.id)
        return leonardo_generations(request, jobs, self.state.config, self._generation, _error)

    def _generation(self, job: Job) -> dict[str, Any]:
        args = job.arguments
        generation: dict[str, Any] = {
            "id": job.request_id,
            "createdAt": datetime.fromtimestamp(job.created_at, UTC).isoformat(),
            "prompt": args.get("prompt", ""),
            "negativePrompt": args.get(
                "negativePrompt" if job.route == "video" else "negative_prompt"
            ),
            "modelId": None if job.route == "video" else args.get("modelId"),
            "imageWidth": args.get("width"),
            "imageHeight": args.get("height"),
            "seed": args.get("seed"),
            "presetStyle": args.get("presetStyle"),
            "guidanceScale": args.get("guidance_scale"),
            "inferenceSteps": args.get("num_inference_steps"),
            "status": "PENDING",
            "generated_images": [],
        }
        if job.done and job.phase is JobPhase.COMPLETED:
            if job.error is FaultKind.CONTENT_REJECTED:
                images = [self._flagged(job, i) for i in range(_count(args.get("num_images")))]
                generation |= {"status": "COMPLETE", "generated_images": images}
            elif job.error is not None or job.output is None:
                generation["status"] = "FAILED"
            else:
                generation |= {"status": "COMPLETE", "generated_images": job.output["images"]}
        return generation

    async def _init_image(self, request: Request) -> Response:
        body = await json_body(request)
        extension = body.get("extension") if isinstance(body, dict) else None
        if extension not in ("png", "jpg", "jpeg", "webp"):
            return _error(400, "extension has to be png, jpg, jpeg or webp", "validation-failed")
        upload_id = str(uuid.uuid4())
        self._uploads[upload_id] = None
        while len(self._uploads) > _KEPT_UPLOADS:
            self._uploads.popitem(last=False)
        key = f"user/emulator/initImages/{upload_id}.{extension}"
        fields = {"key": key, "Content-Type": f"image/{extension}", "Policy": "emulated"}
        origin = f"{request.url.scheme}://{request.url.netloc}"
        return JSONResponse(
            {
                "uploadInitImage": {
                    "id": upload_id,
                    "url": f"{origin}/leonardo/_storage/{upload_id}",
                    "fields": json.dumps(fields),
                    "key": key,
                }
            }
        )

    async def _store(self, request: Request) -> Response:
        upload_id = request.path_params["upload_id"]
        if upload_id not in self._uploads:
            return Response(b"<Error><Code>AccessDenied</Code></Error>", status_code=403)
        async with request.form() as form:
            file = form.get("file")
            if isinstance(file, str) or file is None or "key" not in form:
                return Response(b"<Error><Code>InvalidArgument</Code></Error>", status_code=400)
            stored_type = form.get("Content-Type")
            content_type = stored_type if isinstance(stored_type, str) else file.content_type
            self._uploads[upload_id] = describe_bytes(await file.read(), content_type)
        return Response(status_code=204)

    # -- jobs --------------------------------------------------------------------------------

    async def produce(self, job: Job) -> dict[str, Any]:
        args = job.arguments
        if job.route == "video":
            seconds = _clip_seconds(job.model, args)
            clip = await self.media.video(1280, 720, seconds)
            url = file_url(job, clip.name)
            image = {
                "id": f"{job.request_id}-0",
                "url": url,
                "nsfw": False,
                "likeCount": 0,
                "motionMP4URL": url,
                "motion": True,
                "imageToVideo": True,
            }
            return {"images": [image]}
        width, height = int(args.get("width", 768)), int(args.get("height", 768))
        still = await self.media.image(width, height, "png")
        images = [
            {
                "id": f"{job.request_id}-{i}",
                "url": file_url(job, still.name),
                "nsfw": False,
                "likeCount": 0,
            }
            for i in range(_count(args.get("num_images")))
        ]
        return {"images": images}

    def bill(self, job: Job) -> Billing:
        args = job.arguments
        if job.route == "video":
            return Billing(1, "clip", clip_usd(job.model, args.get("resolution")))
        count = _count(args.get("num_images"))
        return Billing(count, "image", image_usd(count, alchemy=bool(args.get("alchemy"))))

    def _flagged(self, job: Job, index: int) -> dict[str, Any]:
        return {
            "id": f"{job.request_id}-{index}",
            "url": file_url(job, "withheld.png"),
            "nsfw": True,
            "likeCount": 0,
        }


def _dollars(amount: Decimal) -> dict[str, str]:
    return {"amount": str(amount), "unit": "DOLLARS"}


def _count(value: Any) -> int:
    return min(max(value, 1), 8) if isinstance(value, int) else 1


def _clip_seconds(model: str, args: dict[str, Any]) -> float:
    duration = args.get("duration")
    if isinstance(duration, int | float) and 0 < duration <= 10:
        return float(duration)
    return 8.0 if model.startswith("VEO3") else 5.0
