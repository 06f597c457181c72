"""Google's Gemini Developer API on loopback: Gemini image, Imagen and Veo (reference §3).

Mounted at ``/google``, standing for ``https://generativelanguage.googleapis.com``:

- ``POST /google/v1beta/models/{model}:generateContent`` (operation ``generate_content``,
  synchronous): ``candidates[0].content.parts`` holds a text part and an ``inlineData`` PNG
  (base64); ``responseId`` is the request id. The request's inline image parts
  (``inlineData``/``mimeType`` or ``inline_data``/``mime_type``) are its input images, at most 3
  for ``gemini-2.5-flash-image`` and 14 for ``gemini-3-pro-image`` (400 ``INVALID_ARGUMENT``
  past that); Gemini's wire has one kind of image part, so the ledger's ``received`` lists every
  one as the job's references.
- ``POST /google/v1beta/models/{model}:predict`` (``predict``, synchronous, Imagen):
  ``predictions[]`` of ``{bytesBase64Encoded, mimeType}``, ``sampleCount`` of them.
- ``POST /google/v1beta/models/{model}:predictLongRunning`` (``predict_long_running``, Veo;
  ``instances[0].referenceImages`` of ``{image: {bytesBase64Encoded, mimeType}, referenceType}``,
  1-3 on ``veo-3.1*`` models only and never with ``image``/``lastFrame``/``video``, else 400
  ``INVALID_ARGUMENT``; they are the job's references in the ledger):
  ``{"name": "models/{model}/operations/{id}"}``; the job runs on the clock.
- ``GET /google/v1beta/models/{model}/operations/{id}`` (``operation``): ``done`` absent while it
  runs; then ``response.generateVideoResponse.generatedSamples[].video.uri`` or ``error``.
- ``GET /google/v1beta/files/{id}:download?alt=media`` (``download``): the video bytes.

Accept calls (for ``hold_accept``): ``generate_content`` and ``predict`` (the still is made and
billed before the answer is held) and ``predict_long_running``. Google documents no listing of
past generations or operations, so the emulator serves none.

Video URIs have the shape Google's SDK parses (§3.5, §7):
``https://<emulator host:port>/google/v1beta/files/<id>:download?alt=media``. The emulator speaks
plain HTTP, so the ``https`` URI itself is not fetchable: clients download from their configured
base URL using the file id, as the SDK and our adapter do.

Authentication: ``x-goog-api-key`` (or ``?key=``), any value; without one, 403
``PERMISSION_DENIED``. Errors are ``google.rpc.Status`` bodies under ``error`` (§3.4).

Where the reference is silent the emulator picks something plausible: the ``http_401`` fault
answers what Google answers for a bad key (400 ``INVALID_ARGUMENT``, ``ErrorInfo`` reason
``API_KEY_INVALID``); ``http_429`` carries a ``google.rpc.RetryInfo`` ``retryDelay``; a content
rejection is, per endpoint, ``promptFeedback.blockReason: SAFETY`` (generateContent, HTTP fault),
``finishReason: IMAGE_SAFETY`` with no image (generateContent, job fault), predictions carrying
only ``raiFilteredReason`` (predict), a done operation with ``raiMediaFilteredCount`` and no
samples (Veo job), and a 400 naming Responsible AI practices (Veo submit); the response
``@type`` string is a guess (§8). Veo has no cancel here, as in the reference.
"""

from __future__ import annotations

import base64
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
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
    describe_image,
    json_body,
)
from reelforge.emulator.state import FaultKind, FaultRule, Job, JobPhase

__all__ = ["GoogleEmulator"]

DUMMY_KEY = "emulator-gemini-key"
_GEMINI_IMAGE_USD = Decimal("0.039")
_IMAGEN_USD = {
    "imagen-4.0-fast-generate": Decimal("0.02"),
    "imagen-4.0-ultra-generate": Decimal("0.06"),
    "imagen-4.0-generate": Decimal("0.04"),
    "imagen-3.0-generate": Decimal("0.03"),
}
_VEO_PER_SECOND = {"veo-3.1-generate": Decimal("0.40"), "veo-3.0-generate": Decimal("0.40")}
_VEO_FAST_PER_SECOND = Decimal("0.15")
_RESPONSE_TYPE = (
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
)
_RAI_MESSAGE = (
    "The prompt could not be submitted. This prompt contains words that violate Google's "
    "Responsible AI practices. Try rephrasing the prompt."
)
_RAI_VIDEO_REASON = (
    "Video generation failed: the output may violate Google's Responsible AI practices."
)
_KEPT_FILES = 10_000
# Images per prompt, by model prefix (Google's model cards; see the module docstring).
_MAX_IMAGES = {"gemini-3-pro-image": 14, "gemini-2.5-flash-image": 3}
_MAX_VEO_REFERENCES = 3


def rpc_error(http_status: int, status: str, message: str, *details: Any) -> JSONResponse:
    """A ``google.rpc.Status`` error answer."""
    error: dict[str, Any] = {"code": http_status, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return JSONResponse({"error": error}, status_code=http_status)


def _content_rejected(fault: FaultRule) -> Response:
    """A refused prompt, as each endpoint says it (see the module docstring)."""
    if fault.operation == "generate_content":
        return JSONResponse({"promptFeedback": {"blockReason": "SAFETY"}})
    if fault.operation == "predict":
        return JSONResponse({"predictions": [{"raiFilteredReason": _RAI_MESSAGE}]})
    return rpc_error(400, "INVALID_ARGUMENT", _RAI_MESSAGE)


_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_KEY_INVALID = {
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    "reason": "API_KEY_INVALID",
    "domain": "googleapis.com",
}
_FAULT_ANSWERS: dict[FaultKind, FaultAnswer] = {
    FaultKind.HTTP_500: lambda _: rpc_error(500, "INTERNAL", "An internal error has occurred."),
    FaultKind.HTTP_503: lambda _: rpc_error(
        503, "UNAVAILABLE", "The model is overloaded. Please try again later."
    ),
    FaultKind.HTTP_429: lambda fault: rpc_error(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        {"@type": _RETRY_INFO, "retryDelay": f"{fault.retry_after:g}s"},
    ),
    FaultKind.HTTP_401: lambda _: rpc_error(
        400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", _KEY_INVALID
    ),
    FaultKind.HANG: lambda _: rpc_error(
        504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."
    ),
    FaultKind.INVALID_INPUT: lambda _: rpc_error(
        400, "INVALID_ARGUMENT", "Request contains an invalid argument."
    ),
    FaultKind.CONTENT_REJECTED: _content_rejected,
}


class GoogleEmulator(EmulatedProvider):
    """The Gemini API's generateContent, predict, predictLongRunning, operations and files."""

    id: ClassVar[str] = "google"
    fault_answers: ClassVar[Mapping[FaultKind, FaultAnswer]] = _FAULT_ANSWERS
    accept_operations: ClassVar[frozenset[str]] = frozenset(
        {"generate_content", "predict", "predict_long_running"}
    )

    def __init__(self, context: EmulatorContext) -> None:
        super().__init__(context)
        self._files: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def environment(cls, base_url: str) -> dict[str, str]:
        return {
            "REELFORGE_PROVIDERS__GOOGLE__BASE_URL": f"{base_url}/google",
            "GOOGLE_GEMINI_BASE_URL": f"{base_url}/google",
            "GEMINI_API_KEY": DUMMY_KEY,
        }

    def routes(self) -> Sequence[BaseRoute]:
        models = "/v1beta/models/{model}"
        return [
            self.endpoint(
                f"{models}:generateContent", "generate_content", self._generate, methods=["POST"]
            ),
            self.endpoint(f"{models}:predict", "predict", self._predict, methods=["POST"]),
            self.endpoint(
                f"{models}:predictLongRunning",
                "predict_long_running",
                self._start,
                methods=["POST"],
            ),
            self.endpoint(
                f"{models}/operations/{{request_id}}", "operation", self._operation, methods=["GET"]
            ),
            self.endpoint(
                "/v1beta/files/{file_id}:download", "download", self._download, methods=["GET"]
            ),
        ]

    def new_request_id(self) -> str:
        # Operation and file ids must match [a-z0-9]+ for Google's SDK to parse them.
        return uuid.uuid4().hex[:16]

    def authenticate(self, request: Request) -> bool:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        return bool(key and key.strip())

    def unauthorized_response(self) -> Response:
        return rpc_error(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
        )

    # -- endpoints ---------------------------------------------------------------------------

    async def _generate(self, request: Request) -> Response:
        model = request.path_params["model"]
        body = await json_body(request)
        if not model.startswith("gemini-") or "image" not in model:
            return rpc_error(
                400, "INVALID_ARGUMENT", f"Model {model} does not support image output."
            )
        if not _prompt_of_contents(body):
            return rpc_error(400, "INVALID_ARGUMENT", "contents must hold a text part.")
        most = next((n for prefix, n in _MAX_IMAGES.items() if model.startswith(prefix)), 3)
        if len(_inline_images(body)) > most:
            return rpc_error(
                400, "INVALID_ARGUMENT", f"{model} takes at most {most} images per prompt."
            )
        job = self.new_job(request, model, body, route="generate_content")
        await self.run_inline(job)
        if job.error is FaultKind.CONTENT_REJECTED:
            candidate = {"content": {"role": "model", "parts": []}, "finishReason": "IMAGE_SAFETY"}
            return JSONResponse({"candidates": [candidate], "responseId": job.request_id})
        if job.error is not None or job.output is None:
            return rpc_error(500, "INTERNAL", "An internal error has occurred.")
        return JSONResponse(job.output)

    async def _predict(self, request: Request) -> Response:
        model = request.path_params["model"]
        body = await json_body(request)
        if not model.startswith("imagen-"):
            return rpc_error(404, "NOT_FOUND", f"models/{model} is not found for predict.")
        if not _instance_prompt(body):
            return rpc_error(400, "INVALID_ARGUMENT", "instances[0].prompt is required.")
        job = self.new_job(request, model, body, route="predict")
        await self.run_inline(job)
        if job.error is FaultKind.CONTENT_REJECTED:
            return JSONResponse({"predictions": [{"raiFilteredReason": _RAI_MESSAGE}]})
        if job.error is not None or job.output is None:
            return rpc_error(500, "INTERNAL", "An internal error has occurred.")
        return JSONResponse(job.output)

    async def _start(self, request: Request) -> Response:
        model = request.path_params["model"]
        body = await json_body(request)
        if not model.startswith("veo-"):
            return rpc_error(
                404, "NOT_FOUND", f"models/{model} is not found for predictLongRunning."
            )
        if not _instance_prompt(body) and not _instance(body).get("image"):
            return rpc_error(400, "INVALID_ARGUMENT", "instances[0] needs a prompt or an image.")
        problem = _veo_references_problem(model, _instance(body))
        if problem is not None:
            return problem
        job = self.new_job(request, model, body, route="veo")
        self.start_job(job)
        return JSONResponse({"name": _operation_name(job)})

    async def _operation(self, request: Request) -> Response:
        job = self.state.jobs.get(request.path_params["request_id"])
        if job is None or job.provider != self.id or job.route != "veo":
            return rpc_error(404, "NOT_FOUND", "Operation not found.")
        if job.model != request.path_params["model"]:
            return rpc_error(404, "NOT_FOUND", "Operation not found.")
        body: dict[str, Any] = {"name": _operation_name(job)}
        if not job.done:
            return JSONResponse(body)
        body["done"] = True
        if job.phase is JobPhase.CANCELED:
            body["error"] = {"code": 1, "message": "The operation was cancelled."}
        elif job.error is FaultKind.CONTENT_REJECTED:
            body["response"] = {
                "@type": _RESPONSE_TYPE,
                "generateVideoResponse": {
                    "raiMediaFilteredCount": 1,
                    "raiMediaFilteredReasons": [_RAI_VIDEO_REASON],
                },
            }
        elif job.error is not None or job.output is None:
            body["error"] = {"code": 13, "message": "Video generation failed: internal error."}
        else:
            body["response"] = {"@type": _RESPONSE_TYPE, "generateVideoResponse": job.output}
        return JSONResponse(body)

    async def _download(self, request: Request) -> Response:
        name = self._files.get(request.path_params["file_id"])
        found = self.media.get(name) if name is not None else None
        if found is None:
            return rpc_error(404, "NOT_FOUND", "File not found.")
        return Response(found.data, media_type=found.content_type)

    # -- jobs --------------------------------------------------------------------------------

    async def produce(self, job: Job) -> dict[str, Any]:
        args = job.arguments
        if job.route == "veo":
            return await self._videos(job)
        if job.route == "predict":
            parameters = _parameters(args)
            width, height = _image_size(str(parameters.get("aspectRatio", "1:1")))
            mime = str((parameters.get("outputOptions") or {}).get("mimeType", "image/png"))
            still = await self.media.image(width, height, "jpeg" if mime == "image/jpeg" else "png")
            encoded = base64.b64encode(still.data).decode()
            prediction = {"bytesBase64Encoded": encoded, "mimeType": still.content_type}
            return {"predictions": [prediction] * _count(parameters.get("sampleCount"))}
        config = args.get("generationConfig") or {}
        ratio = str((config.get("imageConfig") or {}).get("aspectRatio", "1:1"))
        still = await self.media.image(*_image_size(ratio), "png")
        parts = [
            {"text": "Here is the storyboard frame."},
            {
                "inlineData": {
                    "mimeType": "image/png",
                    "data": base64.b64encode(still.data).decode(),
                }
            },
        ]
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1290},
            "modelVersion": job.model,
            "responseId": job.request_id,
        }

    async def _videos(self, job: Job) -> dict[str, Any]:
        parameters = _parameters(job.arguments)
        short = 1080 if parameters.get("resolution") == "1080p" else 720
        long = round(short * 16 / 9)
        portrait = parameters.get("aspectRatio") == "9:16"
        width, height = (short, long) if portrait else (long, short)
        seconds = _seconds(parameters.get("durationSeconds"))
        clip = await self.media.video(width, height, seconds)
        host = job.origin.split("://", 1)[-1]
        samples = []
        for index in range(_count(parameters.get("sampleCount"))):
            file_id = f"{job.request_id}{index}"
            self._files[file_id] = clip.name
            while len(self._files) > _KEPT_FILES:
                self._files.popitem(last=False)
            uri = f"https://{host}/google/v1beta/files/{file_id}:download?alt=media"
            samples.append({"video": {"uri": uri}})
        return {"generatedSamples": samples, "raiMediaFilteredCount": 0}

    def references(self, model: str, arguments: Any) -> list[dict[str, Any]]:
        found = _inline_images(arguments) + _veo_references(arguments)
        return [describe_image(data, mime) for data, mime in found]

    def bill(self, job: Job) -> Billing:
        parameters = _parameters(job.arguments)
        if job.route == "veo":
            seconds = _seconds(parameters.get("durationSeconds")) * _count(
                parameters.get("sampleCount")
            )
            rate = next(
                (usd for prefix, usd in _VEO_PER_SECOND.items() if job.model.startswith(prefix)),
                _VEO_FAST_PER_SECOND,
            )
            return Billing(seconds, "second", rate * Decimal(str(seconds)))
        if job.route == "predict":
            count = _count(parameters.get("sampleCount"))
            rate = next(
                (usd for prefix, usd in _IMAGEN_USD.items() if job.model.startswith(prefix)),
                Decimal("0.04"),
            )
            return Billing(count, "image", rate * count)
        return Billing(1, "image", _GEMINI_IMAGE_USD)


def _operation_name(job: Job) -> str:
    return f"models/{job.model}/operations/{job.request_id}"


def _instance(body: Any) -> dict[str, Any]:
    instances = body.get("instances") if isinstance(body, dict) else None
    first = instances[0] if isinstance(instances, list) and instances else None
    return first if isinstance(first, dict) else {}


def _instance_prompt(body: Any) -> bool:
    prompt = _instance(body).get("prompt")
    return isinstance(prompt, str) and bool(prompt.strip())


def _prompt_of_contents(body: Any) -> bool:
    contents = body.get("contents") if isinstance(body, dict) else None
    for content in contents if isinstance(contents, list) else ():
        for part in (content.get("parts") or ()) if isinstance(content, dict) else ():
            if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                return True
    return False


def _inline_images(body: Any) -> list[tuple[Any, str | None]]:
    """Each inline image part's ``(data, mime type)``, in order, in either JSON spelling."""
    found: list[tuple[Any, str | None]] = []
    contents = body.get("contents") if isinstance(body, dict) else None
    for content in contents if isinstance(contents, list) else ():
        for part in (content.get("parts") or ()) if isinstance(content, dict) else ():
            if not isinstance(part, dict):
                continue
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict):
                mime = inline.get("mimeType") or inline.get("mime_type")
                found.append((inline.get("data"), mime if isinstance(mime, str) else None))
    return found


def _veo_references(body: Any) -> list[tuple[Any, str | None]]:
    """Each Veo ``referenceImages[].image``'s ``(bytesBase64Encoded, mimeType)``, in order."""
    found = _instance(body).get("referenceImages")
    entries = found if isinstance(found, list) else []
    images = [entry.get("image") for entry in entries if isinstance(entry, dict)]
    return [
        (image.get("bytesBase64Encoded"), image.get("mimeType"))
        for image in images
        if isinstance(image, dict)
    ]


def _veo_references_problem(model: str, instance: dict[str, Any]) -> Response | None:
    references = instance.get("referenceImages")
    if references is None:
        return None
    if not model.startswith("veo-3.1"):
        return rpc_error(400, "INVALID_ARGUMENT", f"{model} does not support reference images.")
    if not isinstance(references, list) or not 0 < len(references) <= _MAX_VEO_REFERENCES:
        return rpc_error(400, "INVALID_ARGUMENT", "referenceImages takes 1 to 3 images.")
    if instance.get("image") or instance.get("lastFrame") or instance.get("video"):
        return rpc_error(
            400, "INVALID_ARGUMENT", "referenceImages cannot be combined with image or video."
        )
    return None


def _parameters(args: dict[str, Any]) -> dict[str, Any]:
    parameters = args.get("parameters")
    return parameters if isinstance(parameters, dict) else {}


def _count(value: Any) -> int:
    return min(max(value, 1), 4) if isinstance(value, int) else 1


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and 0 < value <= 20 else 8.0


def _image_size(ratio: str) -> tuple[int, int]:
    """Gemini-like output sizes: about one megapixel at the asked ratio."""
    try:
        w, h = (int(part) for part in ratio.split(":"))
    except ValueError:
        w, h = 1, 1
    scale = (1024 * 1024 / (w * h)) ** 0.5
    return max(64, round(w * scale / 8) * 8), max(64, round(h * scale / 8) * 8)
